"""Demo risk ratings: a country risk table, a client rated high (living in a country
compliance rates high, finances not declared), one rated medium whose periodic review is
overdue, and the demo's other named clients rated (the KYC client, who declared her finances,
low)."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.utils import timezone

from brokerage.models import User
from clients.models import Client
from clients.services import client_register
from compliance.models import CountryRisk, PeriodicReview
from compliance.rating import risk_rate_many

COUNTRIES = [
    ("MM", "high", "FATF: high-risk jurisdiction subject to a call for action"),
    ("VN", "medium", "FATF: jurisdiction under increased monitoring"),
]
PEOPLE = [
    ("risk.high@demo.test", "Thant", "Zaw", "MM"),
    ("risk.medium@demo.test", "Linh", "Tran", "VN"),
]
RATED = ["client@demo.test", "kyc.review@demo.test", "listed.client@demo.test"]


def install_demo_risk(password: str) -> None:
    for country, level, note in COUNTRIES:
        CountryRisk.objects.get_or_create(country=country, defaults={"level": level, "note": note})
    for email, first, last, country in PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, password, first_name=first, last_name=last)
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        client_register(user=user, actor="system:seed_demo", country=country)
    emails = [e for e, *_ in PEOPLE] + RATED
    ids = list(Client.objects.filter(user__email__in=emails).values_list("pk", flat=True))
    risk_rate_many(sorted(ids), cause="demo: first rating")
    # The medium-risk client's review fell due three weeks ago and waits in the queue.
    PeriodicReview.objects.filter(
        client__user__email="risk.medium@demo.test", status="open"
    ).update(due_on=timezone.now().date() - timedelta(days=21))
