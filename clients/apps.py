from django.apps import AppConfig


class ClientsConfig(AppConfig):
    """What clients adds to other apps' pages (menus, the 360, the home page, /healthz) is in
    `clients/contributions.py`; `ready()` only connects signal receivers."""

    name = "clients"
    verbose_name = "Clients"

    def ready(self):
        from allauth.account.signals import email_confirmed, user_logged_in, user_signed_up

        from .receivers import on_email_confirmed, on_user_logged_in, on_user_signed_up

        # The only listener to allauth's sign-up; the apps above hear clients.signals.
        user_signed_up.connect(on_user_signed_up, dispatch_uid="clients.on_user_signed_up")
        email_confirmed.connect(on_email_confirmed, dispatch_uid="clients.on_email_confirmed")
        # Where each user signs in from (clients.access): the links between clients read it.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="clients.on_user_logged_in")
