"""The compliance workspace: each queue's size, ageing and items past their service level, the
officers' workload, in a fixed number of queries, for compliance officers only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.cases import case_investigate, case_open
from compliance.models import Alert, Case, PeriodicReview
from compliance.monitoring.models import Alert as AmlAlert
from compliance.workspace import officer_workload, workspace_queues
from tests.conftest import login, make_staff
from tests.finance.conftest import verified_client

from .test_alerts import listed_client, watch_list
from .test_cases import aml_alert as _alert

pytestmark = pytest.mark.django_db


def test_queues_count_age_and_breaches(settings):
    settings.COMPLIANCE_ALERT_SLA_DAYS = 2
    ana = make_staff("compliance_officer", email="ana@test.example")
    watch_list()
    person, hit = listed_client()
    now = timezone.now()
    Alert.objects.filter(pk=hit.pk).update(created_at=now - timedelta(days=3))
    fresh, old = _alert(person), _alert(person, "velocity")
    AmlAlert.objects.filter(pk=old.pk).update(first_seen_at=now - timedelta(days=40))
    late = case_open(client=verified_client(), actor=ana, summary="Late")
    Case.objects.filter(pk=late.pk).update(
        opened_at=now - timedelta(days=31), due_at=now - timedelta(days=1)
    )
    case_open(client=person, actor=ana, summary="On time")
    PeriodicReview.objects.create(
        client=person, rating="high", due_on=now.date() - timedelta(days=10)
    )
    queues = {q.key: q for q in workspace_queues()}
    assert (queues["screening"].count, queues["screening"].breached) == (1, 1)
    assert dict(queues["screening"].ageing)["1 to 7 days"] == 1
    assert (queues["aml"].count, queues["aml"].breached) == (2, 1)
    assert dict(queues["aml"].ageing) == {
        "Under a day": 1,
        "1 to 7 days": 0,
        "7 to 30 days": 0,
        "Over 30 days": 1,
    }
    assert fresh.status == "open"
    assert (queues["cases"].count, queues["cases"].breached) == (2, 1)
    assert queues["cases"].breach_url.endswith("?sla=breached")
    assert dict(queues["cases"].ageing)["Over 30 days"] == 1
    assert (queues["reviews"].count, queues["reviews"].breached) == (1, 1)
    assert dict(queues["reviews"].ageing)["7 to 30 days"] == 1
    assert queues["kyc"].count == 0


def test_workload_per_officer_links_to_their_cases():
    ana = make_staff("compliance_officer", email="ana@test.example")
    ben = make_staff("compliance_officer", email="ben@test.example")
    first = case_open(client=verified_client(), actor=ana, summary="One")
    case_investigate(case=first, actor=ana)
    case_open(client=verified_client("b@test.example"), actor=ana, summary="Two")
    case_open(client=verified_client("c@test.example"), actor=ben, summary="Three")
    rows = officer_workload()
    assert [(r["name"], r["active"], r["investigating"]) for r in rows] == [
        ("ana@test.example", 2, 1),
        ("ben@test.example", 1, 0),
    ]
    assert rows[0]["url"].endswith(f"?assigned={ana.pk}")


def test_the_page_shows_every_queue_in_a_fixed_number_of_queries(
    client, django_assert_max_num_queries
):
    ana = make_staff("compliance_officer", email="ana@test.example")
    for n in range(5):
        case_open(client=verified_client(f"p{n}@test.example"), actor=ana, summary="x")
    login(client, ana)
    with django_assert_max_num_queries(16):
        page = client.get("/backoffice/compliance/")
    text = page.content.decode()
    assert page.status_code == 200
    for key in ("screening", "aml", "cases", "reviews", "kyc"):
        assert f'data-queue="{key}"' in text
    assert 'data-officer="' in text and "ana@test.example" in text
    login(client, make_staff("finance_officer", email="fin@test.example"))
    assert client.get("/backoffice/compliance/").status_code in (403, 404)
