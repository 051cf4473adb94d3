from django.apps import AppConfig


class FinanceConfig(AppConfig):
    """What finance adds to other apps' pages and rules (menus, the client 360, the home page,
    retention signals) is in `finance/contributions.py`, found by the kernel; finance needs no
    `ready()`."""

    name = "finance"
    verbose_name = "Finance"
