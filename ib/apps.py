from django.apps import AppConfig


class IbConfig(AppConfig):
    name = "ib"
    verbose_name = "Introducing brokers"

    def ready(self):
        from allauth.account.signals import user_signed_up

        from brokerage.navigation import NavItem, register_nav
        from leads.signals import lead_captured

        from . import dashboard  # noqa: F401
        from .referral_links import on_lead_captured, on_user_signed_up

        # Runs after clients' receiver (apps connect in INSTALLED_APPS order); idempotent anyway.
        user_signed_up.connect(on_user_signed_up, dispatch_uid="ib.on_user_signed_up")
        lead_captured.connect(on_lead_captured, dispatch_uid="ib.on_lead_captured")

        register_nav("partners", NavItem("Overview", "partners:home", "speedometer2", order=0))
        register_nav("partners", NavItem("Network", "partners:network", "diagram-3", order=10))
