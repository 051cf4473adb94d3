"""KYC's alert metric (brokerage.alerts): how long the oldest submission has waited in the
review queue. Its heads are the heads of compliance (`brokerage.head_compliance`)."""

from decimal import Decimal

from django.db.models import Min
from django.urls import reverse

from brokerage.alerts import AlertMetric, Reading, age_hours

from .models import KycSubmission
from .selectors import SLA_HOURS_RED


def review_age(now) -> list[Reading]:
    waiting = KycSubmission.objects.filter(state=KycSubmission.State.IN_REVIEW)
    hours = age_hours(waiting.aggregate(at=Min("submitted_at"))["at"], now)
    return [Reading(hours, url=reverse("kyc_review:queue"))]


METRICS = [
    AlertMetric(
        "kyc.review_age",
        "Compliance",
        "Oldest KYC submission in review",
        "hours",
        Decimal(SLA_HOURS_RED),
        "brokerage.head_compliance",
        review_age,
        hint="Hours the oldest submission has waited in the KYC review queue.",
        order=20,
    )
]
