"""The client 360 and the back-office client list: what each section shows, scoping, the note
and call forms, and a query count that does not grow with the client's history."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.models import AuditEvent, Desk, User
from clients.models import (
    Client,
    ClientActivity,
    Deal,
    RetentionFlag,
    SupportTicket,
    TicketMessage,
)
from finance.models import Deposit, Hold, LedgerAccount, PaymentMethod, Transfer, Withdrawal
from ib.models import Attribution, Partner
from kyc.models import KycSubmission
from leads.models import Lead, LeadActivity
from tests.clients.factories import make_account, make_deal, make_position
from tests.conftest import login, make_client_user, make_partner_user, make_staff

pytestmark = pytest.mark.django_db
D = Decimal
_n = itertools.count(1)


@pytest.fixture
def desks(db):
    return Desk.objects.create(name="London", languages=["en"]), Desk.objects.create(
        name="Dubai", languages=["ar"]
    )


def client_on(desk, email=None, **fields) -> Client:
    user = make_client_user(email or f"trader{next(_n)}@test.example")
    User.objects.filter(pk=user.pk).update(first_name="Tia", last_name="Trader")
    Client.objects.filter(pk=user.client.pk).update(desk=desk, **fields)
    return Client.objects.select_related("user").get(pk=user.client.pk)


def agent_of(desk, role="retention_agent", email=None):
    return make_staff(role, desk=desk, email=email or f"{role}.{desk.name.lower()}@test.example")


def method(psp="stripe", currency="USD") -> PaymentMethod:
    m, _ = PaymentMethod.objects.get_or_create(
        psp=psp,
        currency=currency,
        defaults={"name": f"{psp.title()} {currency}", "min_amount": 10, "max_amount": 50000},
    )
    return m


def deposits(client, n, *, amount="100.00", status=Deposit.Status.COMPLETED):
    m = method()
    Deposit.objects.bulk_create(
        Deposit(
            reference=f"DT{next(_n):014d}",
            client=client,
            method=m,
            psp=m.psp,
            amount=D(amount),
            currency="USD",
            status=status,
            completed_at=timezone.now() if status == Deposit.Status.COMPLETED else None,
        )
        for _ in range(n)
    )


def wallet(client, balance="5000.00") -> LedgerAccount:
    """A client wallet with `balance` (booked as the ledger does: through postings)."""
    from finance.ledger import Leg, clearing_for, ledger_post, wallet_for

    account = wallet_for(client, "USD")
    ledger_post(
        kind="deposit",
        idempotency_key=f"test-wallet-{client.pk}-{next(_n)}",
        legs=[Leg(clearing_for("stripe", "USD"), -D(balance)), Leg(account, D(balance))],
        actor="test",
        client=client,
    )
    account.refresh_from_db()
    return account


def withdrawals(client, account, n, *, status=Withdrawal.Status.PAID):
    funding = Deposit.objects.filter(client=client).first()
    for _ in range(n):
        ref = f"WT{next(_n):014d}"
        hold = Hold.objects.create(
            account=account, amount=D("1.00"), currency="USD", reference=f"withdrawal:{ref}"
        )
        Withdrawal.objects.create(
            reference=ref,
            client=client,
            amount=D("1.00"),
            currency="USD",
            psp="stripe",
            funding_deposit=funding,
            hold=hold,
            status=status,
        )


def transfers(client, trading_account, n):
    Transfer.objects.bulk_create(
        Transfer(
            client=client,
            trading_account=trading_account,
            direction=Transfer.Direction.TO_TRADING,
            amount=D("50.00"),
            currency="USD",
            status=Transfer.Status.COMPLETED,
            comment=f"T{next(_n):012d}",
        )
        for _ in range(n)
    )


def history(client, account, lead, wallet_account, n):
    """`n` of everything a client accumulates: deals, positions, deposits, withdrawals,
    transfers, tickets (with messages), activities and lead activities."""
    now = timezone.now()
    Deal.objects.bulk_create(
        Deal(
            server=account.server,
            ticket=next(_n) + 50_000_000,
            account=account,
            client=client,
            time=now - timedelta(hours=i),
            action=i % 2,
            entry=Deal.Entry.OUT,
            symbol="EURUSD",
            volume=10000,
            price=D("1.1"),
            profit_amount=D("10.00") if i % 3 else D("-5.00"),
            position_id=i,
        )
        for i in range(n)
    )
    for _ in range(min(n, 60)):
        make_position(account)
    deposits(client, n)
    withdrawals(client, wallet_account, n)
    transfers(client, account, n)
    for i in range(n):
        t = SupportTicket.objects.create(client=client, subject=f"Question {i}")
        TicketMessage.objects.create(ticket=t, body="Hello", author=client.user)
    ClientActivity.objects.bulk_create(
        ClientActivity(client=client, kind="note", actor_label="x@test.example", body=f"n{i}")
        for i in range(n)
    )
    LeadActivity.objects.bulk_create(
        LeadActivity(lead=lead, kind="call", actor_label="x@test.example", body=f"c{i}")
        for i in range(n)
    )


@pytest.fixture
def rich(desks):
    """A London client with a bit of everything, and the London retention agent."""
    london, _ = desks
    agent = agent_of(london)
    client = client_on(
        london,
        phone="+447911000111",
        kyc_level=1,
        kyc_verified_at=timezone.now() - timedelta(days=100),
        id_document_expires_on=timezone.now().date() + timedelta(days=12),
        restricted=True,
        restriction_reason="Source of funds requested",
        aml_case_open=True,
        risk_flags=["chargeback"],
        account_manager=agent,
    )
    account = make_account(client, balance="2500.00", equity="2430.50", margin_free="2200.00")
    make_deal(account, days_ago=2, profit="120.00", commission="-7.00", symbol="XAUUSD")
    make_deal(account, days_ago=1, profit="-40.00", swap="-1.50", symbol="EURUSD")
    make_deal(account, days_ago=45, profit="300.00", symbol="GBPUSD")
    make_deal(account, days_ago=3, action=Deal.Action.BALANCE, profit="1000.00")
    make_position(account, symbol="USDJPY", profit="-62.40")
    master = Partner.objects.get(user=make_partner_user("master@test.example", "MASTER01"))
    sub_user = make_client_user("sub-ib@test.example")  # a user to hang the sub-IB on
    sub = Partner.objects.create(
        user=sub_user, company_name="Sub Partners Ltd", referral_code="SUBIB001", parent=master
    )
    lead = Lead.objects.create(
        client=client,
        email=client.user.email,
        channel="api",
        source="landing-gold",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="gold-autumn",
        referral_code="SUBIB001",
    )
    Attribution.objects.create(
        lead=lead,
        partner=sub,
        source=Attribution.Source.API,
        code="SUBIB001",
        made_by_label="integration:Landing",
        made_at=timezone.now() - timedelta(days=30),
    )
    LeadActivity.objects.create(
        lead=lead, kind="call", actor_label="sales@test.example", body="Interested in gold"
    )
    ClientActivity.objects.create(
        client=client, kind="note", actor_label="am@test.example", body="Prefers calls after 6pm"
    )
    ticket = SupportTicket.objects.create(client=client, subject="Withdrawal delay")
    TicketMessage.objects.create(ticket=ticket, body="Where is my money?", author=client.user)
    deposits(client, 1, amount="1500.00")
    w = wallet(client)
    withdrawals(client, w, 1)
    transfers(client, account, 1)
    RetentionFlag.objects.create(
        client=client,
        desk=london,
        days_inactive=14,
        signals=[
            {"code": "inactive", "label": "Inactive", "detail": "No trade for 14 days"},
            {"code": "losing_streak", "label": "Losing streak", "detail": "Last 3 lost USD 90"},
        ],
        flagged_at=timezone.now(),
        refreshed_at=timezone.now(),
    )
    KycSubmission.objects.create(client=client, state="approved", decided_at=timezone.now())
    return {"client": client, "agent": agent, "account": account, "lead": lead, "wallet": w}


def test_the_360_shows_every_section(client, rich):
    login(client, rich["agent"])
    c = rich["client"]
    page = client.get(f"/backoffice/clients/{c.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    view = page.context["view"]
    keys = {s.key for s in view.main + view.side}
    assert {
        "profile",
        "compliance",
        "trading",
        "deals",
        "communications",
        "tickets",
        "retention",
        "wallet",
        "payments",
        "acquisition",
        "ib",
        "kyc",
    } <= keys
    assert view.failed == []
    # Compliance standing, with warnings.
    assert "Source of funds requested" in html
    assert "An AML case is open" in html
    assert "ID document expires in 12 days" in html
    assert "chargeback" in html
    # Trading: balances, equity, totals, open position, P/L net of swap and commission.
    trading = next(s for s in view.main if s.key == "trading").context
    summary = trading["summary"]
    assert summary["pl_30"] == {"USD": D("71.50")}  # 120 - 7 - 40 - 1.50
    assert summary["pl_all"] == {"USD": D("371.50")}
    assert summary["closed"] == 3 and summary["wins"] == 2 and summary["win_rate"] == 67
    assert summary["deals_30"] == 2 and summary["lots"] == D(3)
    assert sum(summary["per_day"]) == 2 and len(summary["per_day"]) == 30
    assert "USD 2,430.50" in html  # equity
    assert "USD 2,200.00" in html  # free margin
    assert "USDJPY" in html and "USD -62.40" in html
    assert 'data-chart="client-deals-per-day"' in html
    assert "client-deals-per-day" in page.context["charts_json"][0]["id"]
    # Recent deals, wallet, payments.
    assert html.count("data-deal=") == 4
    assert 'data-wallet="USD"' in html and "USD 4,999.00" in html  # 5000 less a 1.00 hold
    assert "USD 1,500.00" in html
    # Acquisition and IB attribution (a sub-IB with its master).
    assert "landing-gold" in html and "gold-autumn" in html
    assert "Sub Partners Ltd" in html and "SUBIB001" in html and "MASTER01" in html
    # Communications merged: the client's note and the lead's call.
    comms = {(e.source, e.kind) for e in view.communications}
    assert comms == {("client", "note"), ("lead", "call")}
    assert "Prefers calls after 6pm" in html and "Interested in gold" in html
    # Tickets, retention flag with its signals, KYC.
    assert "Withdrawal delay" in html
    assert "Losing streak" in html and "Last 3 lost USD 90" in html
    assert "Submission" in html
    # One timeline of everything, newest first.
    kinds = {e.kind for e in view.timeline}
    assert {"registered", "deposit", "withdrawal", "transfer", "ticket", "note", "lead"} <= kinds
    assert {"retention", "kyc", "account", "trade", "call"} <= kinds
    times = [e.at for e in view.timeline]
    assert times == sorted(times, reverse=True)


def test_a_failing_section_is_named_and_the_rest_of_the_360_renders(
    client, rich, monkeypatch, caplog
):
    """finance's provider breaks: the page says which part is missing and shows every other
    app's sections."""
    from clients import client360
    from finance.client360 import finance_360

    def broken(client, user):
        raise RuntimeError("ledger unavailable")

    broken.__module__ = finance_360.__module__
    contributed = client360.contributions
    monkeypatch.setattr(
        client360,
        "contributions",
        lambda hook: [broken if p is finance_360 else p for p in contributed(hook)],
    )
    login(client, rich["agent"])
    page = client.get(f"/backoffice/clients/{rich['client'].pk}/")
    assert page.status_code == 200
    view = page.context["view"]
    assert view.failed == ["finance"]
    assert "Part of this page could not be loaded (finance)" in page.content.decode()
    keys = {s.key for s in view.main + view.side}
    assert {"profile", "compliance", "trading", "acquisition", "kyc", "ib", "tickets"} <= keys
    assert not {"wallet", "payments"} & keys
    assert "ledger unavailable" in caplog.text


def test_the_360_costs_the_same_queries_for_10_or_500_rows(
    client, rich, django_assert_max_num_queries
):
    login(client, rich["agent"])
    c = rich["client"]
    url = f"/backoffice/clients/{c.pk}/"
    history(c, rich["account"], rich["lead"], rich["wallet"], 10)
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    history(c, rich["account"], rich["lead"], rich["wallet"], 490)
    with django_assert_max_num_queries(len(small)):
        page = client.get(url)
    assert page.status_code == 200
    print(f"client 360: {len(small)} queries")
    # 40, and 2 for the financial profile section (its versions, its source-of-funds documents),
    # and 2 for the jurisdiction rules section (the rules on the client's countries, and what
    # the restricting ones imposed), and 1 for the terms accepted; less 5 since every link
    # source's keys are read in one statement, 1 since the trading figures total the accounts
    # the section lists, 1 since the deposits' and withdrawals' totals are read together, and
    # 1 since the latest tickets carry the ticket counts, and 1 since the client is read within
    # the viewer's scope in one query
    assert len(small) <= 35, [q["sql"][:120] for q in small.captured_queries]
    trading = next(s for s in page.context["view"].main if s.key == "trading").context
    assert trading["summary"]["deals"] == 503
    assert len(page.context["view"].timeline) == 60
    assert len(page.context["view"].communications) == 40


def test_scoping_other_desk_is_403_unknown_is_404(client, desks, rich):
    _, dubai = desks
    login(client, agent_of(dubai))
    assert client.get(f"/backoffice/clients/{rich['client'].pk}/").status_code == 403
    assert client.get("/backoffice/clients/999999/").status_code == 404
    # past the key's range too (the client is read by a compiled statement, brokerage.statements)
    assert client.get(f"/backoffice/clients/{2**63}/").status_code == 404
    r = client.post(f"/backoffice/clients/{rich['client'].pk}/note/", {"text": "hi"})
    assert r.status_code == 403
    assert not ClientActivity.objects.filter(body="hi").exists()


@pytest.mark.parametrize("role", ["compliance_officer", "finance_officer", "ops_admin"])
def test_roles_that_see_all_clients_open_any_360(client, rich, role):
    login(client, make_staff(role))
    assert client.get(f"/backoffice/clients/{rich['client'].pk}/").status_code == 200
    assert client.get(f"/backoffice/clients/{2**63}/").status_code == 404


@pytest.mark.parametrize("audience", ["ib_manager", "client", "partner", "anonymous"])
def test_others_cannot_open_the_360_or_the_list(client, rich, audience):
    if audience == "ib_manager":
        login(client, make_staff("ib_manager"))
    elif audience == "client":
        login(client, rich["client"].user)
    elif audience == "partner":
        login(client, Partner.objects.get(referral_code="MASTER01").user)
    for url in (
        f"/backoffice/clients/{rich['client'].pk}/",
        "/backoffice/clients/",
        "/backoffice/clients/all/",
    ):
        r = client.get(url)
        if audience == "anonymous":
            assert r.status_code == 302 and "/accounts/login/" in r["Location"]
        else:
            assert r.status_code == 403
    r = client.post(f"/backoffice/clients/{rich['client'].pk}/call/", {"outcome": "answered"})
    assert r.status_code in (302, 403)
    assert not ClientActivity.objects.filter(kind="call").exists()


def test_desk_agents_do_not_get_the_all_clients_list(client, desks):
    login(client, agent_of(desks[0], "sales_agent"))
    assert client.get("/backoffice/clients/all/").status_code == 403
    assert client.get("/backoffice/clients/").status_code == 200


def test_note_and_call_are_logged_and_audited(client, rich):
    login(client, rich["agent"])
    c = rich["client"]
    r = client.post(f"/backoffice/clients/{c.pk}/note/", {"text": "  Asked about swaps  "})
    assert r.status_code == 302 and r["Location"].endswith(
        f"/backoffice/clients/{c.pk}/#communications"
    )
    note = ClientActivity.objects.get(client=c, kind="note", body="Asked about swaps")
    assert note.actor == rich["agent"]
    r = client.post(
        f"/backoffice/clients/{c.pk}/call/",
        {"direction": "outbound", "outcome": "call_back", "duration_minutes": 4, "notes": "Busy"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200 and r["HX-Redirect"].endswith("#communications")
    call = ClientActivity.objects.get(client=c, kind="call")
    assert call.data == {"outcome": "call_back", "duration_seconds": 240, "direction": "outbound"}
    assert call.body == "Busy" and "Asked to call back" in call.subject
    actions = set(
        AuditEvent.objects.filter(target_type="clients.client", target_id=str(c.pk)).values_list(
            "action", flat=True
        )
    )
    assert {"client.note_added", "client.call_logged"} <= actions
    page = client.get(f"/backoffice/clients/{c.pk}/")
    assert b"Asked about swaps" in page.content and b"Asked to call back" in page.content


def test_bad_note_and_call_show_form_errors(client, rich):
    login(client, rich["agent"])
    c = rich["client"]
    r = client.post(f"/backoffice/clients/{c.pk}/note/", {"text": "   "})
    assert r.status_code == 400
    r = client.post(f"/backoffice/clients/{c.pk}/call/", {"outcome": "sang", "direction": "x"})
    assert r.status_code == 400 and b'data-field-error="outcome"' in r.content
    assert (
        not ClientActivity.objects.filter(kind__in=["note", "call"])
        .exclude(body="Prefers calls after 6pm")
        .exists()
    )
    assert client.get(f"/backoffice/clients/{c.pk}/note/").status_code == 405


def test_client_list_search_filters_and_scope(client, desks, rich):
    london, dubai = desks
    other = client_on(london, "quiet@test.example")
    hidden = client_on(dubai, "dubai@test.example")
    login(client, rich["agent"])
    page = client.get("/backoffice/clients/")
    shown = {c.pk for c in page.context["page"]}
    assert shown == {rich["client"].pk, other.pk}
    assert hidden.pk not in shown
    by_login = client.get("/backoffice/clients/", {"q": str(rich["account"].login)})
    assert [c.pk for c in by_login.context["page"]] == [rich["client"].pk]
    by_phone = client.get("/backoffice/clients/", {"q": "7911000111"})
    assert [c.pk for c in by_phone.context["page"]] == [rich["client"].pk]
    by_email = client.get("/backoffice/clients/", {"q": "quiet@"})
    assert [c.pk for c in by_email.context["page"]] == [other.pk]
    flagged = client.get("/backoffice/clients/", {"flagged": "1"})
    assert [c.pk for c in flagged.context["page"]] == [rich["client"].pk]
    kyc0 = client.get("/backoffice/clients/", {"kyc": "0"})
    assert [c.pk for c in kyc0.context["page"]] == [other.pk]
    not_my_desk = client.get("/backoffice/clients/", {"desk": str(dubai.pk)})
    assert {c.pk for c in not_my_desk.context["page"]} == shown  # an unseen desk is ignored
    assert client.get("/backoffice/clients/", {"status": "nonsense", "kyc": "x"}).status_code == 200


def test_client_list_query_count_does_not_grow(client, desks, django_assert_max_num_queries):
    london, _ = desks
    agent = agent_of(london)
    for _ in range(3):
        client_on(london)
    login(client, agent)
    client.get("/backoffice/clients/")
    with CaptureQueriesContext(connection) as few:
        client.get("/backoffice/clients/")
    for _ in range(30):
        c = client_on(london)
        make_account(c)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/backoffice/clients/")
    assert len(page.context["page"]) == 25


def test_links_on_the_360_only_where_they_open(client, desks):
    """A sales agent sees the lead link only for a lead assigned to them and no link to the
    retention flag (which they cannot work); a retention agent gets the flag's link."""
    from django.utils import timezone

    from clients.models import RetentionFlag
    from leads.models import Lead

    london, _ = desks
    c = client_on(london)
    seller = agent_of(london, role="sales_agent")
    other = agent_of(london, role="sales_agent", email="other.seller@test.example")
    lead = Lead.objects.create(
        email=c.user.email, channel="api", desk=london, assigned_to=other, client=c
    )
    now = timezone.now()
    flag = RetentionFlag.objects.create(
        client=c, days_inactive=15, flagged_at=now, refreshed_at=now, signals=[]
    )
    login(client, seller)
    page = client.get(f"/backoffice/clients/{c.pk}/").content.decode()
    assert f"/backoffice/leads/{lead.pk}/" not in page
    assert f"/backoffice/retention/flags/{flag.pk}/" not in page
    Lead.objects.filter(pk=lead.pk).update(assigned_to=seller)
    page = client.get(f"/backoffice/clients/{c.pk}/").content.decode()
    assert f"/backoffice/leads/{lead.pk}/" in page
    login(client, agent_of(london))
    page = client.get(f"/backoffice/clients/{c.pk}/").content.decode()
    assert f"/backoffice/retention/flags/{flag.pk}/" in page
