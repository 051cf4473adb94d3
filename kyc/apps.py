from django.apps import AppConfig


class KycConfig(AppConfig):
    """What kyc adds to other apps' pages (menus, the client 360) is in
    `kyc/contributions.py`, found by the kernel; kyc needs no `ready()`."""

    name = "kyc"
    verbose_name = "KYC"
