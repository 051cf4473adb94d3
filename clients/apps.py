from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self):
        from allauth.account.signals import user_signed_up

        from brokerage.navigation import NavItem, register_nav

        from . import dashboard  # noqa: F401  (registers the home dashboard provider)
        from .receivers import on_user_signed_up

        user_signed_up.connect(on_user_signed_up, dispatch_uid="clients.on_user_signed_up")
        register_nav("portal", NavItem("Overview", "portal:home", "speedometer2", order=0))
        register_nav(
            "portal", NavItem("Profile & security", "portal:profile", "shield-lock", order=90)
        )
