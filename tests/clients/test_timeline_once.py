"""The client 360's timeline tells each happening once (the provider that owns it, not also
the client record's summary and the audit trail), and every page writes dates one way."""

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from clients.client360 import TimelineEntry, timeline_merge
from tests.conftest import login, make_staff
from tests.finance.conftest import deposit_paid, methods, verified_client  # noqa: F401

AT = datetime(2026, 3, 5, 14, 7, tzinfo=UTC)


def test_the_owner_of_a_happening_tells_it_once():
    deposit = TimelineEntry(AT, "deposit", "x", "Deposit credited (FTD)", same=("d:1", "ftd"))
    summary = TimelineEntry(AT, "ftd", "x", "First deposit (FTD)", same=("ftd",), rank=1)
    audit = TimelineEntry(AT, "audit", "x", "Deposit credited", same=("d:1",), rank=2)
    later = TimelineEntry(AT + timedelta(days=2), "audit", "x", "Refunded", same=("d:1",), rank=2)
    other = TimelineEntry(AT, "audit", "x", "Note added", same=("n:1",), rank=2)
    merged = timeline_merge([audit, summary, later, other, deposit])
    assert [e.title for e in merged] == ["Refunded", "Deposit credited (FTD)", "Note added"]


def test_one_providers_entries_on_one_object_all_stay():
    submitted = TimelineEntry(AT, "kyc", "x", "KYC submitted", same=("k:1",))
    approved = TimelineEntry(AT + timedelta(seconds=3), "kyc", "x", "KYC approved", same=("k:1",))
    assert len(timeline_merge([submitted, approved])) == 2


@pytest.mark.django_db
def test_a_credited_first_deposit_shows_once_on_the_360(client, methods):  # noqa: F811
    customer = verified_client()
    deposit_paid(customer, methods["stripe"], "250.00")
    login(client, make_staff("compliance_officer"))
    html = client.get(f"/backoffice/clients/{customer.pk}/").content.decode()
    timeline = html[html.index('id="timeline"') :]
    assert timeline.count('data-kind="deposit"') == 1
    assert timeline.count('data-kind="ftd"') == 0
    assert timeline.count("Deposit completed") == 1  # "Deposit completed (FTD)", finance's
    for told_again in ("Deposit created", "Client FTD", "First deposit (FTD)"):
        assert told_again not in timeline


def test_dates_are_written_one_way():
    rendered = Template('{{ d|date }} · {{ d|date:"DATETIME_FORMAT" }} · {{ d }}').render(
        Context({"d": AT})
    )
    assert rendered == "5 Mar 2026 · 5 Mar 2026, 14:07 · 5 Mar 2026, 14:07"
