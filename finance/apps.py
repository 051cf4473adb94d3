from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = "Finance"

    def ready(self):
        from brokerage.navigation import NavItem, register_nav
        from clients.client360 import register_360_provider
        from clients.retention.signals import register_retention_signal

        from . import dashboard  # noqa: F401  (registers the home dashboard provider)
        from .retention_signals import failed_withdrawals

        register_retention_signal("failed_withdrawal", "Failed withdrawal", failed_withdrawals)

        for item in [
            NavItem("Wallet", "wallet:home", "wallet2", order=20),
            NavItem("Deposit", "wallet:deposit", "box-arrow-in-down", order=21),
            NavItem("Withdraw", "wallet:withdraw", "box-arrow-up", order=22),
        ]:
            register_nav("portal", item)
        perm = "finance.view_finance"
        for item in [
            NavItem("Withdrawals", "finance:withdrawals", "cash-stack", perm, 50, "Finance"),
            NavItem("Deposits", "finance:deposits", "credit-card", perm, 51, "Finance"),
            NavItem("Transactions", "finance:transactions", "journal-text", perm, 52, "Finance"),
            NavItem(
                "Chargebacks", "finance:chargebacks", "shield-exclamation", perm, 53, "Finance"
            ),
            NavItem(
                "Reconciliation",
                "finance:reconciliations",
                "check2-all",
                "finance.reconcile",
                54,
                "Finance",
            ),
        ]:
            register_nav("backoffice", item)

        from .client360 import finance_360

        register_360_provider(finance_360)
