"""The partner API: tokens a partner makes and revokes at /partners/api/ (shown once, stored
hashed, audited, a few at most) and /api/v1/partners/ read with them (its own figures only,
rate-limited per token; nothing else gets in)."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.kv import redis_client
from brokerage.models import AuditEvent, User
from brokerage.services import api_key_create
from clients.models import Client
from ib import audit_events
from ib.models import CommissionLine, PartnerToken
from ib.tokens import partner_token_create, partner_token_revoke
from tests.conftest import login, make_staff
from tests.ib.test_commissions import pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def fresh_counters():
    r = redis_client()
    for key in r.scan_iter("api:rate:*"):
        r.delete(key)


def token_for(partner, name="Reporting"):
    return partner_token_create(partner=partner, name=name, actor=partner.user)[1]


def get(client, path, token=None, **extra):
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get(f"/api/v1/partners/{path}", **extra)


def yesterday_noon():
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(hours=12)


@pytest.fixture
def paid(network):
    """Two closed trades of leaf's client paid down the tree (leaf 5, mid 3, top 2 a lot)."""
    trade(network["account"], volume=25000, at=timezone.now())  # 2.5 lots, today
    trade(network["account"], volume=10000, at=yesterday_noon())
    assert pay_all()["lines"] == 6
    return network


# --- tokens in the dashboard -------------------------------------------------------------------


def test_a_token_is_shown_once_stored_as_a_digest_and_audited(client, network):
    leaf = network["leaf"]
    login(client, leaf.user)
    response = client.post("/partners/api/", {"name": "  Reporting   sheet "})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    token = PartnerToken.objects.get(partner=leaf)
    raw = page.split("data-token>")[1].split("<")[0]
    assert raw.startswith("ibp_") and len(raw) > 40 and raw.startswith(token.prefix)
    assert f"Authorization: Bearer {raw}" in page  # the curl example
    assert (
        token.name == "Reporting sheet"
        and token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    )
    stored = PartnerToken.objects.filter(pk=token.pk).values().get()
    assert raw not in str(stored)
    # never again: not on the page, not to anyone
    again = client.get("/partners/api/").content.decode()
    assert raw not in again and f"{token.prefix}…" in again and "Never" in again
    event = AuditEvent.objects.get(action=audit_events.PARTNER_TOKEN_CREATED)
    assert event.actor_id == leaf.user.pk and raw not in str(event.evidence)
    assert get(client, "me", raw).json() == {
        "partner": str(leaf),
        "referral_code": "LEAFIB01",
        "token": "Reporting sheet",
    }
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_at_most_five_active_tokens_with_distinct_names(client, network):
    leaf = network["leaf"]
    made = [partner_token_create(partner=leaf, name=f"t{i}", actor=leaf.user)[0] for i in range(5)]
    with pytest.raises(InvalidInput) as refused:
        partner_token_create(partner=leaf, name="sixth", actor=leaf.user)
    assert refused.value.code == "too_many_tokens"
    login(client, leaf.user)
    response = client.post("/partners/api/", {"name": "sixth"})
    assert (
        response.status_code == 200 and "revoke one you no longer use" in response.content.decode()
    )
    assert "data-token>" not in response.content.decode()
    partner_token_revoke(token=made[0], actor=leaf.user)
    with pytest.raises(InvalidInput):
        partner_token_create(partner=leaf, name="T1", actor=leaf.user)  # an active one's name
    partner_token_create(partner=leaf, name="t0", actor=leaf.user)  # a revoked one's: fine
    assert PartnerToken.objects.filter(partner=leaf, revoked_at__isnull=True).count() == 5
    # another partner's count is its own
    partner_token_create(partner=network["mid"], name="t0", actor=network["mid"].user)


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_a_bad_name_is_a_form_error_and_makes_nothing(client, network, name):
    login(client, network["leaf"].user)
    response = client.post("/partners/api/", {"name": name})
    assert response.status_code == 200 and 'data-field-error="name"' in response.content.decode()
    assert not PartnerToken.objects.exists()


def test_revoking_stops_the_token_at_once_and_is_audited_once(client, paid):
    leaf = paid["leaf"]
    raw = token_for(leaf)
    assert get(client, "lines", raw).status_code == 200
    token = PartnerToken.objects.get()
    login(client, leaf.user)
    response = client.post(f"/partners/api/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == leaf.user.email
    client.logout()
    refused = get(client, "lines", raw)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    partner_token_revoke(token=token, actor=leaf.user)  # again: nothing more
    assert AuditEvent.objects.filter(action=audit_events.PARTNER_TOKEN_REVOKED).count() == 1


def test_a_partner_neither_sees_nor_revokes_another_partners_token(client, network):
    raw = token_for(network["mid"], name="Mid's")
    token = PartnerToken.objects.get()
    login(client, network["leaf"].user)
    assert client.post(f"/partners/api/{token.pk}/revoke/").status_code == 404
    assert "Mid&#x27;s" not in client.get("/partners/api/").content.decode()
    assert get(client, "me", raw).status_code == 200  # still works
    with pytest.raises(NotAllowed):
        partner_token_revoke(token=token, actor=network["leaf"].user)


def test_staff_make_no_tokens_and_only_ib_managers_revoke_one(client, network):
    manager, sales = make_staff("ib_manager"), make_staff("sales_agent")
    for actor in (manager, sales, "a rule"):
        with pytest.raises(NotAllowed):
            partner_token_create(partner=network["leaf"], name="x", actor=actor)
    raw = token_for(network["leaf"])
    token = PartnerToken.objects.get()
    with pytest.raises(NotAllowed):
        partner_token_revoke(token=token, actor=sales)
    partner_token_revoke(token=token, actor=manager, reason="leaked in a ticket")
    assert get(client, "me", raw).status_code == 401
    login(client, manager)
    assert client.get("/partners/api/").status_code == 403
    assert client.post(f"/partners/api/{token.pk}/revoke/").status_code == 403


def test_the_tokens_page_reads_in_a_bounded_number_of_queries(
    client, network, django_assert_max_num_queries
):
    leaf = network["leaf"]
    login(client, leaf.user)
    client.get("/partners/api/")
    for i in range(5):
        partner_token_create(partner=leaf, name=f"t{i}", actor=leaf.user)
    with django_assert_max_num_queries(12):
        assert client.get("/partners/api/").status_code == 200


# --- the API: who gets in ----------------------------------------------------------------------


def test_no_token_an_unknown_one_an_api_key_or_a_session_gets_nothing(client, paid):
    missing = get(client, "earnings")
    assert missing.status_code == 401 and missing.json()["error"] == "missing_token"
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert get(client, "earnings", "ibp_" + "x" * 43).json()["error"] == "invalid_token"
    assert get(client, "earnings", "short").status_code == 401
    integration = api_key_create(actor="test", name="Landing", scopes=["leads:write"])[1]
    assert get(client, "earnings", integration).status_code == 401
    assert get(client, "earnings", HTTP_X_API_KEY=integration).status_code == 401
    assert (
        get(client, "earnings", HTTP_AUTHORIZATION=f"Token {token_for(paid['leaf'])}").status_code
        == 401
    )
    for user in (paid["leaf"].user, paid["client"].user, make_staff("ib_manager")):
        login(client, user)
        for path in ("earnings", "lines", "clients", "me"):
            assert get(client, path).status_code == 401, (user, path)
        client.logout()
    # and a partner token is no integration key
    raw = token_for(paid["mid"], name="other")
    assert client.get("/api/v1/whoami", HTTP_X_API_KEY=raw).status_code == 401


def test_a_partner_whose_login_is_switched_off_is_refused(client, network):
    raw = token_for(network["leaf"])
    User.objects.filter(pk=network["leaf"].user_id).update(is_active=False)
    assert get(client, "me", raw).status_code == 401


def test_the_api_waits_like_the_dashboard_for_approval_and_a_new_agreement(client, network):
    from ib.models import Partner, PartnerAgreement
    from ib.onboarding import agreement_accept, agreement_publish

    leaf = network["leaf"]
    raw = token_for(leaf)
    assert get(client, "me", raw).status_code == 200
    programme = leaf.plans.first().plan.programme
    agreement_publish(
        programme=programme, text="The partner agreement, version two. " * 2, actor="test"
    )
    refused = get(client, "me", raw)
    assert refused.status_code == 403 and refused.json()["error"] == "agreement_due"
    assert "Accept version" in refused.json()["detail"]
    agreement = PartnerAgreement.objects.get(programme=programme)
    agreement_accept(partner=leaf, agreement=agreement, actor=leaf.user)
    assert get(client, "me", raw).status_code == 200
    Partner.objects.filter(pk=leaf.pk).update(status=Partner.Status.REJECTED)
    refused = get(client, "me", raw)
    assert refused.status_code == 403 and refused.json()["error"] == "partner_not_active"


def test_the_api_only_reads(client, network):
    raw = token_for(network["leaf"])
    for method in (client.post, client.put, client.delete):
        response = method("/api/v1/partners/lines", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 405


def test_each_token_is_rate_limited_on_its_own(client, network, settings):
    settings.API_RATE_LIMIT = "3/60"
    first, second = token_for(network["leaf"]), token_for(network["leaf"], name="Other")
    assert [get(client, "me", first).status_code for _ in range(3)] == [200] * 3
    over = get(client, "lines", first)
    assert over.status_code == 429 and over.json()["error"] == "rate_limited"
    assert 1 <= int(over["Retry-After"]) <= 60
    assert get(client, "me", second).status_code == 200
    integration = api_key_create(actor="test", name="Landing")[1]
    assert client.get("/api/v1/whoami", HTTP_X_API_KEY=integration).status_code == 200


# --- the API: what a partner reads -------------------------------------------------------------


def total(partner):
    return sum(CommissionLine.objects.filter(partner=partner).values_list("amount", flat=True))


def test_earnings_are_the_partners_own_by_day_symbol_and_tier(client, paid):
    leaf, mid = paid["leaf"], paid["mid"]
    body = get(client, "earnings", token_for(leaf)).json()
    assert [(r["currency"], D(r["amount"]), r["lines"]) for r in body["totals"]] == [
        ("USD", total(leaf), 2)
    ]
    assert total(leaf) == D("17.5")  # 2.5 + 1 lots at 5
    assert len(body["by_day"]) == 2 and sum(D(r["amount"]) for r in body["by_day"]) == D("17.5")
    assert [(r["symbol"], D(r["amount"])) for r in body["by_symbol"]] == [("EURUSD", D("17.5"))]
    assert [(r["tier"], D(r["amount"])) for r in body["by_tier"]] == [(0, D("17.5"))]
    mid_body = get(client, "earnings", token_for(mid)).json()
    assert [(r["tier"], D(r["amount"])) for r in mid_body["by_tier"]] == [(1, D("10.5"))]
    # a range: only yesterday
    day = yesterday_noon().date().isoformat()
    one = get(client, f"earnings?date_from={day}&date_to={day}", token_for(leaf, "2")).json()
    assert one["date_from"] == day and [D(r["amount"]) for r in one["totals"]] == [D("5")]


@pytest.mark.parametrize(
    "query",
    [
        "date_from=2026-02-01&date_to=2026-01-01",
        "date_from=2024-01-01&date_to=2025-12-31",
        "date_from=2026-13-01",
        "date_from=yesterday",
    ],
)
def test_a_bad_range_is_a_field_error(client, network, query):
    response = get(client, f"earnings?{query}", token_for(network["leaf"]))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error" and "date_from" in body["fields"]


def test_lines_come_with_their_why_paged_and_filtered(client, paid):
    leaf = paid["leaf"]
    raw = token_for(leaf)
    body = get(client, "lines?page_size=1", raw).json()
    assert body["next_page"] == 2 and len(body["lines"]) == 1
    line = body["lines"][0]
    stored = CommissionLine.objects.get(pk=line["id"])
    assert stored.partner == leaf and line["formula"] == stored.formula
    assert (
        D(line["rate"]) == D("5") and D(line["lots"]) == D("2.5") and D(line["amount"]) == D("12.5")
    )
    assert line["currency"] == "USD" and line["status"] == "pending" and line["plan"] == "Leaf v1"
    assert line["client"] == "T*** (t***@test.example)"  # masked
    last = get(client, "lines?page_size=1&page=2", raw).json()
    assert last["next_page"] is None and last["lines"][0]["id"] != line["id"]
    assert get(client, "lines?status=settled", raw).json()["lines"] == []
    day = yesterday_noon().date().isoformat()
    dated = get(client, f"lines?date_from={day}&date_to={day}", raw).json()["lines"]
    assert [D(x["amount"]) for x in dated] == [D("5")]
    assert get(client, "lines?page_size=500", raw).status_code == 422
    assert get(client, "lines?status=nonsense", raw).status_code == 422


def test_a_withheld_line_shows_its_status_never_why_it_is_held(client, paid):
    leaf = paid["leaf"]
    line = CommissionLine.objects.filter(partner=leaf).first()
    CommissionLine.objects.filter(pk=line.pk).update(
        status="withheld",
        hold_reasons=[{"code": "related_clients", "message": "Same device as client 42"}],
    )
    response = get(client, "lines?status=withheld", token_for(leaf))
    assert [x["status_label"] for x in response.json()["lines"]] == ["Withheld for review"]
    text = response.content.decode()
    assert "related_clients" not in text and "Same device" not in text and "hold" not in text


def test_clients_are_the_partners_own_referrals_masked(client, paid):
    leaf, mid = paid["leaf"], paid["mid"]
    referred = paid["client"]
    Client.objects.filter(pk=referred.pk).update(country="GB", first_deposit_at=timezone.now())
    body = get(client, "clients", token_for(leaf)).json()
    assert body["count"] == 1 and body["next_page"] is None
    (row,) = body["clients"]
    assert (
        row["id"] == referred.pk and row["name"] == "T***" and row["email"] == "t***@test.example"
    )
    assert row["country"] == "GB" and row["funded"] is True and D(row["lots"]) == D("3.5")
    assert [(x["currency"], D(x["amount"])) for x in row["commission_generated"]] == [
        ("USD", D("17.5"))
    ]
    assert set(row) == {
        "id",
        "name",
        "email",
        "country",
        "referred_at",
        "funded",
        "lots",
        "commission_generated",
    }
    assert "trader@" not in str(body) and "balance" not in str(body)
    # mid sees its own client, not its sub-IB's
    mids = get(client, "clients", token_for(mid)).json()["clients"]
    assert [r["email"] for r in mids] == ["m***@test.example"]
    assert mids[0]["funded"] is False and D(mids[0]["lots"]) == 0


def test_lists_read_in_a_bounded_number_of_queries(client, paid, django_assert_max_num_queries):
    raw = token_for(paid["leaf"])
    for _ in range(6):
        trade(paid["account"])
    pay_all()
    get(client, "lines", raw)
    with django_assert_max_num_queries(6):
        assert len(get(client, "lines", raw).json()["lines"]) == 8
    with django_assert_max_num_queries(6):
        assert get(client, "clients", raw).status_code == 200


def test_the_openapi_schema_documents_the_partner_api(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("earnings", "lines", "clients", "me"):
        operation = schema["paths"][f"/api/v1/partners/{path}"]["get"]
        assert operation["tags"] == ["partners"]
        assert operation["security"] == [{"PartnerTokenAuth": []}]
        assert "$ref" in str(operation["responses"]["200"])
    assert schema["components"]["securitySchemes"]["PartnerTokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert {"Earnings", "LinesPage", "ClientsPage", "Line", "ReferredClient"} <= set(
        schema["components"]["schemas"]
    )


def test_the_clients_page_shows_what_the_api_answers(client, paid, django_assert_max_num_queries):
    leaf = paid["leaf"]
    Client.objects.filter(pk=paid["client"].pk).update(
        country="GB", first_deposit_at=timezone.now()
    )
    login(client, leaf.user)
    client.get("/partners/clients/")
    with django_assert_max_num_queries(10):
        page = client.get("/partners/clients/")
    text = page.content.decode()
    row = text.split(f'data-client="{paid["client"].pk}"')[1].split("</tr>")[0]
    assert "T***" in row and "t***@test.example" in row and "GB" in row and "Yes" in row
    assert "3.5" in row and "17.50" in row
    assert "trader@test.example" not in text and "m***@test.example" not in text
    login(client, paid["mid"].user)
    mids = client.get("/partners/clients/").content.decode()
    assert "m***@test.example" in mids and f'data-client="{paid["client"].pk}"' not in mids
