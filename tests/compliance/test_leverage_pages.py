"""Compliance's leverage pages: the limits (set and removed by officers, audited, labels not
codes) and the queue of requests for professional status, decided on the criteria; the
portal's category page; the client 360's category section."""

import threading
import time

import pytest
from django.db import connection, transaction

from brokerage import audit_events
from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent, LeverageLimit
from clients.categories import category_request_decide, category_request_submit
from clients.models import CategoryRequest
from compliance.leverage import leverage_limit_remove, leverage_limit_set
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db

STATEMENT = "Forty trades a quarter for six years; EUR 700,000 portfolio; rates desk."


def uk_trader(email="uk@test.example"):
    client = make_client_user(email).client
    client.country = "GB"
    client.save()
    return client


def test_officers_see_the_limits_in_words_and_set_one(client, django_assert_max_num_queries):
    officer = make_staff("compliance_officer")
    login(client, officer)
    with django_assert_max_num_queries(15):
        page = client.get("/backoffice/compliance/leverage/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "United Kingdom" in text and "FX major" in text and "1:30" in text
    assert ">fx_major<" not in text and "European Economic Area" in text
    refused = client.post(
        "/backoffice/compliance/leverage/",
        {
            "jurisdiction": "XX",
            "category": "retail",
            "instrument_class": "crypto",
            "max_leverage": "2",
            "basis": "",
        },
    )
    assert refused.status_code == 400 and b"This field is required" in refused.content
    done = client.post(
        "/backoffice/compliance/leverage/",
        {
            "jurisdiction": "cy",
            "category": "retail",
            "instrument_class": "fx_major",
            "max_leverage": "25",
            "basis": "CySEC circular C417",
        },
    )
    assert done.status_code == 302
    limit = LeverageLimit.objects.get(jurisdiction="CY")
    event = AuditEvent.objects.get(action=audit_events.LEVERAGE_LIMIT_SET, target_id=str(limit.pk))
    assert event.evidence["max_leverage"] == 25 and event.evidence["before"] is None
    assert event.actor_id == officer.pk
    # Set again: the same limit changes, what it was is kept in the event.
    leverage_limit_set(
        jurisdiction="CY",
        category="retail",
        instrument_class="fx_major",
        max_leverage=20,
        basis="CySEC circular C417",
        actor=officer,
    )
    assert LeverageLimit.objects.filter(jurisdiction="CY").count() == 1
    last = AuditEvent.objects.filter(action=audit_events.LEVERAGE_LIMIT_SET).latest("pk")
    assert last.evidence["before"]["max_leverage"] == 25
    no_reason = client.post(f"/backoffice/compliance/leverage/{limit.pk}/remove/", {"reason": ""})
    assert no_reason.status_code == 400 and LeverageLimit.objects.filter(pk=limit.pk).exists()
    gone = client.post(f"/backoffice/compliance/leverage/{limit.pk}/remove/", {"reason": "Ended"})
    assert gone.status_code == 302 and not LeverageLimit.objects.filter(pk=limit.pk).exists()
    assert AuditEvent.objects.filter(action=audit_events.LEVERAGE_LIMIT_REMOVED).exists()


@pytest.mark.parametrize("role", ["sales_agent", "finance_officer", "ops_admin"])
def test_only_compliance_officers_reach_the_leverage_pages(client, role):
    login(client, make_staff(role))
    for url in ("/backoffice/compliance/leverage/", "/backoffice/compliance/categories/"):
        assert client.get(url).status_code == 403
    with pytest.raises(Exception, match="compliance officers"):
        leverage_limit_set(
            jurisdiction="CY",
            category="retail",
            instrument_class="fx_major",
            max_leverage=20,
            basis="x",
            actor=make_staff(role, email=f"x{role}@t.e"),
        )


def test_the_queue_and_the_decision_page(client, django_assert_max_num_queries):
    for n in range(3):
        trader = uk_trader(f"uk{n}@test.example")
        category_request_submit(client=trader, statement=STATEMENT, actor=trader.user)
    login(client, make_staff("compliance_officer"))
    with django_assert_max_num_queries(15):
        queue = client.get("/backoffice/compliance/categories/")
    assert queue.status_code == 200 and queue.content.count(b"data-request=") == 3
    assert b"Waiting for compliance" in queue.content and b"United Kingdom" in queue.content
    request = CategoryRequest.objects.order_by("pk").first()
    page = client.get(f"/backoffice/compliance/categories/{request.pk}/")
    assert page.status_code == 200 and STATEMENT.encode() in page.content
    assert b"up to 1:30" in page.content
    one = client.post(
        f"/backoffice/compliance/categories/{request.pk}/",
        {"decision": "approve", "trades_met": "on", "evidence": "statements"},
    )
    assert one.status_code == 400 and b"at least 2 of the 3 criteria" in one.content
    done = client.post(
        f"/backoffice/compliance/categories/{request.pk}/",
        {
            "decision": "approve",
            "trades_met": "on",
            "portfolio_met": "on",
            "evidence": "Statements Q1-Q4; custody EUR 700k",
        },
    )
    assert done.status_code == 302
    request.refresh_from_db()
    assert request.status == "approved" and request.client.category == "professional"
    decided = client.get(f"/backoffice/compliance/categories/{request.pk}/")
    assert b"custody EUR 700k" in decided.content and b"Not met" in decided.content
    sixty = client.get(f"/backoffice/clients/{request.client_id}/")
    assert sixty.status_code == 200 and b"data-category-section" in sixty.content
    assert b"Professional" in sixty.content


def test_the_portal_category_page_shows_the_caps_and_takes_a_request(client):
    trader = uk_trader()
    login(client, trader.user)
    page = client.get("/portal/category/")
    assert page.status_code == 200
    assert b"up to <strong>1:30</strong>" in page.content and b"Crypto" in page.content
    short = client.post("/portal/category/", {"statement": "please"})
    assert short.status_code == 400 and not CategoryRequest.objects.exists()
    sent = client.post("/portal/category/", {"statement": STATEMENT})
    assert sent.status_code == 302
    assert CategoryRequest.objects.get().client == trader
    assert b"data-request-pending" in client.get("/portal/category/").content


def cy_retail_fx(officer, leverage: int):
    return leverage_limit_set(
        jurisdiction="CY",
        category="retail",
        instrument_class="fx_major",
        max_leverage=leverage,
        basis="CySEC circular C417",
        actor=officer,
    )


def test_a_limit_another_officer_removed_meanwhile_is_refused_in_words():
    officer = make_staff("compliance_officer")
    limit = cy_retail_fx(officer, 25)
    leverage_limit_remove(limit=limit, actor=officer, reason="Superseded")
    with pytest.raises(InvalidInput, match="already removed"):
        leverage_limit_remove(limit=limit, actor=officer, reason="Superseded")
    assert AuditEvent.objects.filter(action=audit_events.LEVERAGE_LIMIT_REMOVED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_officers_setting_the_same_new_limit_at_once_both_succeed_one_after_the_other():
    """The second officer's insert waits on the first's uncommitted row, then finds it: their
    limit changes it (as if they had come second), with the first's value as `before`."""
    first, second = (make_staff("compliance_officer", email=f"o{n}@test.example") for n in (1, 2))
    holding, errors = threading.Event(), []

    def first_officer():
        try:
            with transaction.atomic():
                cy_retail_fx(first, 25)
                holding.set()
                time.sleep(1.5)  # the second officer's insert waits on this row meanwhile
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=first_officer)
    thread.start()
    assert holding.wait(10)
    limit = cy_retail_fx(second, 20)
    thread.join()
    assert not errors
    assert LeverageLimit.objects.get(jurisdiction="CY").max_leverage == 20 == limit.max_leverage
    events = AuditEvent.objects.filter(action=audit_events.LEVERAGE_LIMIT_SET).order_by("pk")
    assert [e.evidence["max_leverage"] for e in events] == [25, 20]
    assert events[1].evidence["before"]["max_leverage"] == 25


def test_a_removal_without_a_reason_shows_the_limits_again_with_the_error(client):
    officer = make_staff("compliance_officer")
    login(client, officer)
    limit = cy_retail_fx(officer, 25)
    refused = client.post(f"/backoffice/compliance/leverage/{limit.pk}/remove/", {"reason": " "})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert f'data-limit="{limit.pk}"' in text and "CySEC circular C417" in text
    assert "No leverage limit here" not in text and "Say why the limit is removed" in text
    assert LeverageLimit.objects.filter(pk=limit.pk).exists()


def test_evidence_longer_than_is_kept_is_refused_not_cut(client):
    trader = uk_trader()
    request = category_request_submit(client=trader, statement=STATEMENT, actor=trader.user)
    login(client, make_staff("compliance_officer"))
    url = f"/backoffice/compliance/categories/{request.pk}/"
    decision = {"decision": "approve", "trades_met": "on", "portfolio_met": "on"}
    refused = client.post(url, {**decision, "evidence": "Statements Q1-Q4. " * 150})
    assert refused.status_code == 400 and b"at most 2000 characters" in refused.content
    with pytest.raises(InvalidInput) as cut:
        category_request_decide(
            category_request=request,
            approve=False,
            trades_met=False,
            portfolio_met=False,
            experience_met=False,
            evidence="",
            reason="Not enough trades. " * 40,
            actor=make_staff("compliance_officer", email="second@test.example"),
        )
    assert cut.value.fields == {"reason": ["At most 500 characters."]}
    request.refresh_from_db()
    assert request.status == "pending" and request.client.category == "retail"


def test_an_officer_sets_a_class_not_allowed_and_the_page_says_so(client):
    officer = make_staff("compliance_officer")
    login(client, officer)
    done = client.post(
        "/backoffice/compliance/leverage/",
        {
            "jurisdiction": "AU",
            "category": "retail",
            "instrument_class": "crypto",
            "max_leverage": "0",
            "basis": "ASIC: crypto not offered to retail (house policy)",
        },
    )
    assert done.status_code == 302
    page = client.get("/backoffice/compliance/leverage/").content.decode()
    assert "Not allowed" in page and ">1:0<" not in page
    refused = client.post(
        "/backoffice/compliance/leverage/",
        {
            "jurisdiction": "AU",
            "category": "retail",
            "instrument_class": "crypto",
            "max_leverage": "-1",
            "basis": "x",
        },
    )
    assert refused.status_code == 400
