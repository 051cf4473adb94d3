from django.apps import AppConfig


class IbConfig(AppConfig):
    name = "ib"
    verbose_name = "Introducing brokers"

    def ready(self):
        from brokerage.navigation import NavItem, register_nav
        from clients.client360 import register_360_provider
        from clients.signals import signed_up, signup_verified
        from leads.signals import lead_captured

        from . import dashboard  # noqa: F401
        from .client360 import ib_360
        from .receivers import on_lead_captured, on_signed_up, on_signup_verified

        signed_up.connect(on_signed_up, dispatch_uid="ib.on_signed_up")
        signup_verified.connect(on_signup_verified, dispatch_uid="ib.on_signup_verified")
        lead_captured.connect(on_lead_captured, dispatch_uid="ib.on_lead_captured")
        register_360_provider(ib_360)

        register_nav("partners", NavItem("Overview", "partners:home", "speedometer2", order=0))
        register_nav("partners", NavItem("Network", "partners:network", "diagram-3", order=10))
