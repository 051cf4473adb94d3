from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "kyc"
    verbose_name = "KYC"

    def ready(self):
        from brokerage.navigation import NavItem, register_nav
        from clients.client360 import register_360_provider

        register_nav("portal", NavItem("Verify", "kyc:wizard", "person-vcard", order=10))
        register_nav(
            "backoffice",
            NavItem(
                "KYC review", "kyc_review:queue", "person-check", "kyc.review_kyc", 40, "Compliance"
            ),
        )

        from .client360 import kyc_360

        register_360_provider(kyc_360)
