from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients"

    def ready(self):
        from allauth.account.signals import email_confirmed, user_signed_up

        from brokerage.navigation import NavItem, register_nav

        from . import dashboard  # noqa: F401  (registers the home dashboard provider)
        from .receivers import on_email_confirmed, on_user_signed_up

        # The only listener to allauth's sign-up; the apps above hear clients.signals.
        user_signed_up.connect(on_user_signed_up, dispatch_uid="clients.on_user_signed_up")
        email_confirmed.connect(on_email_confirmed, dispatch_uid="clients.on_email_confirmed")

        from brokerage.health import register_health_extra

        from .sync import sync_health

        register_health_extra("platform_sync", sync_health)
        for item in [
            NavItem(
                "Retention",
                "retention:queue",
                "life-preserver",
                "clients.work_retention",
                8,
                "Clients",
            ),
            NavItem(
                "Retention settings",
                "retention:settings",
                "sliders",
                "clients.manage_retention",
                9,
                "Clients",
            ),
        ]:
            register_nav("backoffice", item)
        register_nav("portal", NavItem("Overview", "portal:home", "speedometer2", order=0))
        register_nav("portal", NavItem("Profile", "portal:profile", "shield-lock", order=90))
        register_nav("portal", NavItem("Trading", "portal:trading", "graph-up-arrow", order=40))
        register_nav(
            "backoffice",
            NavItem(
                "Trading platforms",
                "platforms:status",
                "arrow-repeat",
                "clients.view_platform_sync",
                825,
                "Admin",
            ),
        )
        from . import client360  # noqa: F401  (registers clients' own 360 providers)

        register_nav("portal", NavItem("Support", "portal:support", "life-preserver", order=80))
        for item in [
            NavItem("Clients", "clients:list", "people", "clients.view_desk_clients", 5, "Clients"),
            NavItem(
                "All clients", "clients:all", "people", "clients.view_all_clients", 6, "Clients"
            ),
            NavItem(
                "Support tickets",
                "clients:tickets",
                "headset",
                "clients.answer_tickets",
                7,
                "Clients",
            ),
        ]:
            register_nav("backoffice", item)
