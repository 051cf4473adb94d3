"""A confirmed sanctions match stops the client's deposits, withdrawals, transfers and trading:
the client is told, in their language and in their communication history, that the account is
under review, in words that name no list and no reason (no tipping-off); told again when the
last block is lifted, and only then."""

import pytest
from django.core import mail

from clients.models import ClientActivity
from compliance.models import Alert
from compliance.services import alert_block_lift, alert_confirm, client_screen
from tests.compliance.test_alerts import WATCH_CSV, register, watch_list
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

TWO_ENTRIES = WATCH_CSV + "W-3,Ivan Zlobnikov Jr,,1970-03-04,RU,Sanctions evasion,\n"


def told(client) -> list[ClientActivity]:
    return list(
        ClientActivity.objects.filter(
            client=client, template__in=["account_under_review", "account_review_ended"]
        ).order_by("pk")
    )


def test_the_client_is_told_neutrally_in_their_language_and_again_when_it_ends(
    django_capture_on_commit_callbacks,
):
    watch_list()
    client = register("Ivan", "Zlobnikov")
    client.language = "es"
    client.save(update_fields=["language"])
    client_screen(client_id=client.pk, reason="on_demand")
    alert = Alert.objects.get(client=client)
    officer = make_staff("compliance_officer")
    with django_capture_on_commit_callbacks(execute=True):
        alert_confirm(alert=alert, actor=officer, reason="DOB and passport match")
    [review] = told(client)
    assert review.template == "account_under_review"
    assert review.subject == "Su cuenta está en revisión"
    assert "revisión" in review.body and review.data["language"] == "es"
    for word in ("sanction", "sanción", "OFAC", "list", "lista", "Zlobnikov", "W-1", "watch"):
        assert word.lower() not in (review.subject + review.body).lower()
    assert [m.subject for m in mail.outbox] == ["Su cuenta está en revisión"]
    with django_capture_on_commit_callbacks(execute=True):
        alert_block_lift(alert=alert, actor=officer, reason="Delisted on 2026-12-01")
    assert [a.template for a in told(client)] == ["account_under_review", "account_review_ended"]
    assert told(client)[1].subject == "La revisión de su cuenta ha terminado"
    assert len(mail.outbox) == 2


def test_a_second_match_tells_nothing_more_and_the_review_ends_with_the_last_block():
    watch_list(TWO_ENTRIES)
    client = register("Ivan", "Zlobnikov")
    client_screen(client_id=client.pk, reason="on_demand")
    first, second = Alert.objects.filter(client=client).order_by("list_id")
    officer = make_staff("compliance_officer")
    alert_confirm(alert=first, actor=officer, reason="DOB and passport match")
    alert_confirm(alert=second, actor=officer, reason="the same person")
    assert [a.template for a in told(client)] == ["account_under_review"]
    assert told(client)[0].subject == "Your account is under review"
    alert_block_lift(alert=first, actor=officer, reason="Delisted")
    assert [a.template for a in told(client)] == ["account_under_review"]  # still blocked
    alert_block_lift(alert=second, actor=officer, reason="Delisted too")
    assert [a.template for a in told(client)] == ["account_under_review", "account_review_ended"]
