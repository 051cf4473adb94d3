from django.apps import AppConfig


class ClientsConfig(AppConfig):
    """What clients adds to other apps' pages (menus, the 360, the home page, /healthz) is in
    `clients/contributions.py`; `ready()` only connects signal receivers."""

    name = "clients"
    verbose_name = "Clients"

    def ready(self):
        from allauth.account.signals import email_confirmed, user_logged_in, user_signed_up
        from allauth.mfa.signals import authentication_failed
        from django.contrib.auth.signals import user_login_failed

        from .receivers import (
            on_email_confirmed,
            on_second_factor_failed,
            on_user_logged_in,
            on_user_login_failed,
            on_user_signed_up,
        )

        # The only listener to allauth's sign-up; the apps above hear clients.signals.
        user_signed_up.connect(on_user_signed_up, dispatch_uid="clients.on_user_signed_up")
        email_confirmed.connect(on_email_confirmed, dispatch_uid="clients.on_email_confirmed")
        # Where each user signs in from (clients.access): the links between clients read it.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="clients.on_user_logged_in")
        # Failed attempts (a wrong password or address, a wrong second-factor code), for the
        # access log and a client's dossier.
        user_login_failed.connect(on_user_login_failed, dispatch_uid="clients.on_login_failed")
        authentication_failed.connect(
            on_second_factor_failed, dispatch_uid="clients.on_second_factor_failed"
        )
