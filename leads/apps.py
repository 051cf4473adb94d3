from django.apps import AppConfig


class LeadsConfig(AppConfig):
    """What leads adds to other apps' pages (menu, the 360, the home page) is in
    `leads/contributions.py`; `ready()` only connects signal receivers and the rules cache."""

    name = "leads"
    verbose_name = "Leads"

    def ready(self):
        from brokerage.signals import staff_deactivated
        from clients.signals import client_funded, signed_up, signup_verified

        from . import rules
        from .receivers import (
            on_client_funded,
            on_signed_up,
            on_signup_verified,
            on_staff_deactivated,
        )

        rules.connect()
        signed_up.connect(on_signed_up, dispatch_uid="leads.on_signed_up")
        signup_verified.connect(on_signup_verified, dispatch_uid="leads.on_signup_verified")
        staff_deactivated.connect(on_staff_deactivated, dispatch_uid="leads.on_staff_deactivated")
        client_funded.connect(on_client_funded, dispatch_uid="leads.on_client_funded")
