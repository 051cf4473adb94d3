from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BrokerageConfig(AppConfig):
    name = "brokerage"
    verbose_name = "Back-office kernel"

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers system checks)
            dashboard_kernel,  # noqa: F401  (registers the kernel's home panel)
        )
        from .health import audit_sealing, register_health_extra
        from .navigation import NavItem, register_nav
        from .services import roles_sync

        register_health_extra("audit_sealing", audit_sealing)
        post_migrate.connect(roles_sync, sender=self, dispatch_uid="brokerage.roles_sync")
        for item in [
            NavItem("Home", "backoffice:home", "house", order=0),
            NavItem("Team", "backoffice:team", "people", "brokerage.view_team", 800, "Admin"),
            NavItem(
                "Audit log",
                "backoffice:audit_log",
                "journal-check",
                "brokerage.view_auditevent",
                810,
                "Admin",
            ),
            NavItem(
                "System",
                "backoffice:system",
                "hdd-network",
                "brokerage.view_system_status",
                820,
                "Admin",
            ),
        ]:
            register_nav("backoffice", item)
        from . import hooks

        hooks.autodiscover()  # each app's contributions.py
