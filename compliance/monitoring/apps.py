from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """AML transaction monitoring: scenarios, their versions, alerts and their evidence.

    Its own app label (`aml`) inside the compliance package, because compliance's screening
    hit is already `compliance.Alert`."""

    name = "compliance.monitoring"
    label = "aml"
    verbose_name = "AML monitoring"
