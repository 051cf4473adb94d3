from django.apps import AppConfig


class IbConfig(AppConfig):
    name = "ib"
    verbose_name = "Introducing brokers"

    def ready(self):
        from brokerage.navigation import NavItem, register_nav

        from . import dashboard  # noqa: F401

        register_nav("partners", NavItem("Overview", "partners:home", "speedometer2", order=0))
        register_nav("partners", NavItem("Network", "partners:network", "diagram-3", order=10))
