"""Clients verified before the client record kept a nationality get the one their latest sent
KYC submission declared (migration kyc 0003), so the country rules on nationals, the risk
rating and screening reach them too; a nationality already recorded, and a draft's, are left
alone, and running it again changes nothing."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from clients.models import Client
from kyc.models import KycSubmission
from tests.conftest import make_client_user

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("kyc.migrations.0003_client_nationality_from_kyc")


def sent(client, nationality, days_ago):
    return KycSubmission.objects.create(
        client=client,
        nationality=nationality,
        submitted_at=timezone.now() - timedelta(days=days_ago),
    )


def test_the_latest_sent_submission_gives_a_client_without_one_their_nationality():
    moved = make_client_user("moved@test.example").client
    sent(moved, "FR", 400)
    sent(moved, "DE", 30)  # the latest sent submission wins
    known = make_client_user("known@test.example").client
    Client.objects.filter(pk=known.pk).update(nationality="IT")
    sent(known, "ES", 10)  # a nationality the record has is not overwritten
    draft = make_client_user("draft@test.example").client
    KycSubmission.objects.create(client=draft, nationality="RU")  # never sent
    backfill.forwards(django_apps, None)
    nationalities = dict(Client.objects.values_list("user__email", "nationality"))
    assert nationalities == {
        "moved@test.example": "DE",
        "known@test.example": "IT",
        "draft@test.example": "",
    }
    change = Client.history.filter(id=moved.pk).latest("history_date")
    assert change.nationality == "DE" and change.history_type == "~"
    assert "KYC" in change.history_change_reason
    before = Client.history.count()
    backfill.forwards(django_apps, None)
    assert Client.history.count() == before  # nothing left to fill: nothing written
