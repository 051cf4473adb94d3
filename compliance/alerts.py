"""Compliance's alert metric (brokerage.alerts): AML alerts open on no case, which nobody has
taken on. Its heads are the heads of compliance (`brokerage.head_compliance`)."""

from decimal import Decimal

from django.urls import reverse

from brokerage.alerts import AlertMetric, Reading

from .monitoring.models import Alert, AlertStatus


def aml_unassigned(now) -> list[Reading]:
    n = Alert.objects.filter(status=AlertStatus.OPEN).count()
    return [Reading(Decimal(n), url=reverse("compliance:aml_alerts") + "?status=open")]


METRICS = [
    AlertMetric(
        "compliance.aml_unassigned",
        "Compliance",
        "AML alerts on no case",
        "count",
        Decimal(10),
        "brokerage.head_compliance",
        aml_unassigned,
        hint="Open AML monitoring alerts no officer has taken into a case.",
        order=21,
    )
]
