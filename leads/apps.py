from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self):
        from brokerage.navigation import NavItem, register_nav
        from brokerage.signals import staff_deactivated
        from clients.client360 import register_360_provider
        from clients.signals import client_funded, signed_up, signup_verified

        from . import dashboard, rules  # noqa: F401
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
        for item in [
            NavItem("My leads", "leads:inbox", "inbox", "leads.work_leads", 10, "Sales"),
            NavItem("Desk", "leads:desk", "kanban", "leads.manage_desk_leads", 20, "Sales"),
            NavItem("All leads", "leads:all", "people", "leads.view_all_leads", 25, "Sales"),
            NavItem("Import leads", "leads:imports", "upload", "leads.import_leads", 30, "Sales"),
        ]:
            register_nav("backoffice", item)

        from .client360 import leads_360

        register_360_provider(leads_360)
