from django.apps import AppConfig


class IbConfig(AppConfig):
    """What ib adds to other apps' pages (partner menu, the client 360, the home page) is in
    `ib/contributions.py`; `ready()` only connects signal receivers."""

    name = "ib"
    verbose_name = "Introducing brokers"

    def ready(self):
        from clients.signals import signed_up, signup_verified
        from leads.signals import lead_captured

        from .receivers import on_lead_captured, on_signed_up, on_signup_verified

        signed_up.connect(on_signed_up, dispatch_uid="ib.on_signed_up")
        signup_verified.connect(on_signup_verified, dispatch_uid="ib.on_signup_verified")
        lead_captured.connect(on_lead_captured, dispatch_uid="ib.on_lead_captured")
