"""Disputes and withheld lines over HTTP: the partner disputes its own lines only and sees the
outcome; IB managers work the queue, the dispute page (recompute, reject, adjust, four eyes)
and the withheld lines; nobody else opens them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from clients.models import Deal
from ib.disputes import dispute_adjust, dispute_open
from ib.models import CommissionDispute, CommissionLine
from tests.conftest import login, make_partner_user, make_staff
from tests.ib.test_commissions import network, pay_all, trade  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines(network):  # noqa: F811
    """Two deals of the leaf's client: each pays leaf, mid and top."""
    deals = [
        trade(network["account"], volume=v, at=timezone.now() - timedelta(hours=h))
        for v, h in ((15000, 2), (20000, 3))
    ]
    pay_all()
    return {
        (d, p): CommissionLine.objects.get(deal=deal, partner=network[p])
        for d, deal in enumerate(deals)
        for p in ("leaf", "mid", "top")
    }


def test_a_partner_disputes_its_own_line_and_sees_the_outcome(
    network,  # noqa: F811
    lines,
    client,
    django_assert_max_num_queries,
):
    line = lines[0, "leaf"]
    login(client, network["leaf"].user)
    page = client.get("/partners/commissions/").content.decode()
    assert f'href="/partners/commissions/{line.pk}/dispute/"' in page
    form = client.get(f"/partners/commissions/{line.pk}/dispute/")
    assert form.status_code == 200 and "1.5 lots x 5 per lot" in form.content.decode()
    empty = client.post(f"/partners/commissions/{line.pk}/dispute/", {"reason": "  "})
    assert empty.status_code == 400 and not CommissionDispute.objects.exists()
    too_long = client.post(f"/partners/commissions/{line.pk}/dispute/", {"reason": "x" * 1001})
    assert too_long.status_code == 400 and not CommissionDispute.objects.exists()
    sent = client.post(
        f"/partners/commissions/{line.pk}/dispute/", {"reason": "It was 2 lots, not 1.5."}
    )
    assert sent.status_code == 302 and sent["Location"] == "/partners/disputes/"
    dispute = CommissionDispute.objects.get()
    assert dispute.line == line and dispute.opened_by == network["leaf"].user
    line.refresh_from_db()
    assert line.status == "disputed"
    again = client.post(f"/partners/commissions/{line.pk}/dispute/", {"reason": "Twice."})
    assert again.status_code == 400 and CommissionDispute.objects.count() == 1
    dispute_adjust(
        dispute=dispute, amount="2.50", reason="0.5 lots unpaid.", actor=make_staff("ib_manager")
    )
    with django_assert_max_num_queries(12):
        listing = client.get("/partners/disputes/")
    html = listing.content.decode()
    assert "It was 2 lots, not 1.5." in html and "0.5 lots unpaid." in html
    assert "USD 2.50" in html and "Adjusted" in html


def test_another_partners_line_is_a_404_and_nothing_is_written(network, lines, client):  # noqa: F811
    login(client, network["leaf"].user)
    for other in (lines[0, "mid"], lines[0, "top"]):
        assert client.get(f"/partners/commissions/{other.pk}/dispute/").status_code == 404
        response = client.post(f"/partners/commissions/{other.pk}/dispute/", {"reason": "Mine!"})
        assert response.status_code == 404
    stranger = make_partner_user("stranger@test.example", "STRANGE1")
    dispute_open(
        partner=network["mid"],
        line_id=lines[0, "mid"].pk,
        reason="mid's",
        actor=network["mid"].user,
    )
    client.logout()
    login(client, stranger)
    assert "mid&#x27;s" not in client.get("/partners/disputes/").content.decode()
    assert CommissionDispute.objects.count() == 1
    login(client, make_staff("ib_manager"))  # staff do not dispute as a partner
    assert client.get(f"/partners/commissions/{lines[0, 'leaf'].pk}/dispute/").status_code == 403


def test_ib_managers_work_the_queue_and_others_may_not(
    network,  # noqa: F811
    lines,
    client,
    django_assert_max_num_queries,
):
    for key in ((0, "leaf"), (1, "leaf"), (0, "mid")):
        p = network[key[1]]
        dispute_open(partner=p, line_id=lines[key].pk, reason=f"wrong {key}", actor=p.user)
    for role in ("finance_officer", "compliance_officer", "sales_agent", "ops_admin"):
        login(client, make_staff(role))
        assert client.get("/backoffice/ib/disputes/").status_code == 403
        assert client.get("/backoffice/ib/withheld/").status_code == 403
        first = CommissionDispute.objects.first()
        assert client.get(f"/backoffice/ib/disputes/{first.pk}/").status_code == 403
        client.logout()
    login(client, make_staff("ib_manager"))
    with django_assert_max_num_queries(14):
        html = client.get("/backoffice/ib/disputes/").content.decode()
    assert html.count("data-dispute=") == 3
    mid = network["mid"]
    assert (
        client.get(f"/backoffice/ib/disputes/?partner={mid.pk}")
        .content.decode()
        .count("data-dispute=")
        == 1
    )
    assert (
        client.get("/backoffice/ib/disputes/?q=MIDIB001").content.decode().count("data-dispute=")
        == 1
    )
    assert "No disputes" in client.get("/backoffice/ib/disputes/?status=adjusted").content.decode()
    for junk in ("?partner=99999999999999999999", "?status=<b>", "?q=%23-1", "?page=x"):
        assert client.get("/backoffice/ib/disputes/" + junk).status_code == 200
    partner_page = client.get(f"/backoffice/ib/partners/{network['leaf'].pk}/").content.decode()
    assert "2 open / 2" in partner_page
    assert f"/backoffice/ib/disputes/?partner={network['leaf'].pk}" in partner_page


def test_the_dispute_page_recomputes_and_decides_with_four_eyes(network, lines, client, settings):  # noqa: F811
    settings.IB_ADJUSTMENT_APPROVAL_THRESHOLD = "100"
    leaf = network["leaf"]
    line = lines[0, "leaf"]
    dispute = dispute_open(partner=leaf, line_id=line.pk, reason="Short.", actor=leaf.user)
    first, second = (
        make_staff("ib_manager", email="a@test.example"),
        make_staff("ib_manager", email="b@test.example"),
    )
    login(client, first)
    url = f"/backoffice/ib/disputes/{dispute.pk}/"
    page = client.get(url).content.decode()
    assert "data-comparison" in page and "1.5 lots x 5 per lot" in page
    assert page.count("data-recomputed") == 1  # the leaf's one level, recomputed as stored
    bad = client.post(url, {"action": "adjust", "adjust-amount": "1.234", "adjust-reason": "x"})
    assert bad.status_code == 400 and "at most 2 decimal places" in bad.content.decode()
    bad = client.post(url, {"action": "adjust", "adjust-amount": "5", "adjust-reason": ""})
    assert bad.status_code == 400
    assert client.post(url, {"action": "nonsense"}).status_code == 400
    assert not CommissionLine.objects.filter(kind="adjustment").exists()
    proposed = client.post(
        url, {"action": "adjust", "adjust-amount": "-120.00", "adjust-reason": "Clawback."}
    )
    assert proposed.status_code == 302
    page = client.get(url).content.decode()
    assert "data-proposal" in page and "data-own-proposal" in page
    assert client.post(url, {"action": "approve"}).status_code == 403  # the proposer
    dispute.refresh_from_db()
    assert dispute.status == "awaiting_approval"
    client.logout()
    login(client, second)
    assert 'data-action="approve"' in client.get(url).content.decode()
    assert client.post(url, {"action": "approve"}).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "adjusted" and dispute.adjustment.amount == -120
    page = client.get(url).content.decode()
    assert "data-outcome" in page and "approved by b@test.example" in page
    # a second dispute of the same line, rejected from the page
    again = dispute_open(partner=leaf, line_id=line.pk, reason="Still short.", actor=leaf.user)
    response = client.post(
        f"/backoffice/ib/disputes/{again.pk}/",
        {"action": "reject", "reject-reason": "Paid as the plan says."},
    )
    assert response.status_code == 302
    again.refresh_from_db()
    assert again.status == "rejected"
    assert "Other disputes of this line" in client.get(url).content.decode()


def test_withheld_lines_are_reviewed_and_the_partner_never_sees_why(
    network,  # noqa: F811
    lines,
    client,
    django_assert_max_num_queries,
):
    held = [lines[0, "leaf"], lines[1, "leaf"], lines[0, "mid"]]
    CommissionLine.objects.filter(pk__in=[x.pk for x in held[:2]]).update(
        status="withheld",
        hold_reasons=[{"code": "related_client", "message": "Same phone as the partner."}],
    )
    CommissionLine.objects.filter(pk=held[2].pk).update(
        status="withheld",
        hold_reasons=[{"code": "opposite_trades", "message": "Opposite trades within 10 s."}],
    )
    login(client, network["leaf"].user)
    page = client.get("/partners/commissions/").content.decode()
    assert (
        "Withheld for review" in page and "Same phone" not in page and "related_client" not in page
    )
    client.logout()
    login(client, make_staff("ib_manager"))
    with django_assert_max_num_queries(14):
        html = client.get("/backoffice/ib/withheld/").content.decode()
    assert html.count("data-line=") == 3 and "Same phone as the partner." in html
    assert "Opposite trades within 10 s." in html
    assert ">Opposite trades in one network</option>" in html  # the signal's label, not its code
    only = client.get("/backoffice/ib/withheld/?code=opposite_trades").content.decode()
    assert only.count("data-line=") == 1
    mine = client.get(f"/backoffice/ib/withheld/?partner={network['leaf'].pk}").content.decode()
    assert mine.count("data-line=") == 2
    no_reason = client.post(
        "/backoffice/ib/withheld/", {"decision": "release", "reason": "", "line": [held[0].pk]}
    )
    assert no_reason.status_code == 400
    none_ticked = client.post("/backoffice/ib/withheld/", {"decision": "release", "reason": "ok"})
    assert (
        none_ticked.status_code == 400 and "Tick at least one line" in none_ticked.content.decode()
    )
    assert set(
        CommissionLine.objects.filter(pk__in=[x.pk for x in held]).values_list("status", flat=True)
    ) == {"withheld"}
    done = client.post(
        "/backoffice/ib/withheld/",
        {"decision": "release", "reason": "Family phone.", "line": [held[0].pk, held[1].pk]},
    )
    assert done.status_code == 302
    gone = client.post(
        "/backoffice/ib/withheld/",
        {
            "decision": "cancel",
            "reason": "Self-dealing.",
            "line": [held[2].pk, "999999999999999999999"],
        },
    )
    assert gone.status_code == 302
    statuses = dict(
        CommissionLine.objects.filter(pk__in=[x.pk for x in held]).values_list("pk", "status")
    )
    assert statuses == {held[0].pk: "pending", held[1].pk: "pending", held[2].pk: "cancelled"}
    stale = client.post(
        "/backoffice/ib/withheld/", {"decision": "cancel", "reason": "x", "line": [held[0].pk]}
    )
    assert stale.status_code == 400 and "no longer withheld" in stale.content.decode()


def test_the_recompute_is_kept_when_opened_and_made_again_only_on_demand(
    network,  # noqa: F811
    lines,
    client,
    django_assert_max_num_queries,
):
    leaf = network["leaf"]
    line = lines[0, "leaf"]
    dispute = dispute_open(partner=leaf, line_id=line.pk, reason="Short.", actor=leaf.user)
    # kept on the dispute when it was opened: what the engine pays now, as stored
    assert [(r["tier"], r["amount"]) for r in dispute.recomputed] == [(0, "7.5")]
    opened_at = dispute.recomputed_at
    manager = make_staff("ib_manager")
    login(client, manager)
    url = f"/backoffice/ib/disputes/{dispute.pk}/"
    # the deal is 1.8 lots now (as the platform would correct it): the page still shows what
    # was kept until a manager asks for the recompute again
    Deal.objects.filter(pk=line.deal_id).update(volume=18000)
    with django_assert_max_num_queries(40):
        page = client.get(url).content.decode()
    assert "data-recompute-time" in page and 'data-action="recompute"' in page
    assert '<span class="text-nowrap fw-semibold">7.5</span>' in page
    dispute.refresh_from_db()
    assert dispute.recomputed_at == opened_at  # a view runs nothing and writes nothing
    # "Recompute now": the engine again, kept, audited with the totals before and after
    assert client.post(url, {"action": "recompute"}).status_code == 302
    dispute.refresh_from_db()
    assert [(r["tier"], r["amount"]) for r in dispute.recomputed] == [(0, "9")]
    assert dispute.recomputed_at > opened_at
    event = AuditEvent.objects.get(action="commission_dispute.recomputed")
    assert event.evidence["before"] == "7.5" and event.evidence["after"] == "9"
    page = client.get(url).content.decode()
    assert "data-difference>1.5<" in page.replace("\n", "")
    # the adjustment form offers what the recompute says is still owed
    assert 'value="1.50"' in page
    # nobody but IB managers recomputes
    login(client, network["leaf"].user)
    assert client.post(url, {"action": "recompute"}).status_code in (302, 403)
    dispute.refresh_from_db()
    assert AuditEvent.objects.filter(action="commission_dispute.recomputed").count() == 1
