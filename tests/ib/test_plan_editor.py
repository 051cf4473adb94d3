"""The plan editor: programmes, plans, a draft version with its rates, its preview against what
was paid (nothing written), and publishing it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent
from ib.models import CommissionLine, Plan, PlanRule, PlanVersion, Programme
from ib.plans import plan_version_create
from ib.preview import version_preview
from tests.conftest import login, make_staff
from tests.ib.test_commissions import ACTOR, pay_all, trade

pytestmark = pytest.mark.django_db
D = Decimal


def leaf_draft(network, rate="7"):
    plan = Plan.objects.get(name="Leaf")
    return plan_version_create(
        plan=plan,
        valid_from=timezone.now() + timedelta(days=3),
        rules=[{"symbol_group": "fx_major", "rate": rate}],
        actor=ACTOR,
        note="Leaf up to 7",
    )


def test_the_preview_pays_the_window_again_under_the_draft_and_writes_nothing(network):
    now = timezone.now()
    for minutes in (50, 40):
        trade(network["account"], volume=20000, at=now - timedelta(minutes=minutes))
    pay_all()
    stored = list(CommissionLine.objects.order_by("pk").values_list("pk", "amount"))
    draft = leaf_draft(network)
    preview = version_preview(version=draft, start=now - timedelta(hours=2), end=now)
    rows = {r.partner.referral_code: (r.paid, r.would) for r in preview.rows}
    # 4 lots: the leaf 5 -> 7 per lot; the mid keeps the difference to its 8 (3 -> 1); the top
    # is paid as before and is not listed
    assert rows == {"LEAFIB01": (D("20"), D("28")), "MIDIB001": (D("12"), D("4"))}
    assert preview.paid == D("32") and preview.would == D("32") and preview.difference == 0
    # nothing was published, moved or written
    draft.refresh_from_db()
    assert draft.published_at is None and draft.valid_from > now
    assert list(CommissionLine.objects.order_by("pk").values_list("pk", "amount")) == stored


def test_a_manager_makes_a_programme_a_plan_and_a_draft_then_previews_and_publishes(
    client, network
):
    manager = make_staff("ib_manager")
    login(client, manager)
    page = client.get("/backoffice/ib/plans/")
    assert page.status_code == 200 and "Standard" in page.content.decode()
    made = client.post(
        "/backoffice/ib/plans/",
        {
            "action": "programme",
            "programme-name": "Affiliates",
            "programme-registration": "public",
            "programme-period": "weekly",
            "programme-currency": "eur",
        },
    )
    assert made.status_code == 302
    programme = Programme.objects.get(name="Affiliates")
    assert programme.currency == "EUR"
    made = client.post(
        "/backoffice/ib/plans/",
        {"action": "plan", "plan-programme": programme.pk, "plan-name": "CPA 250"},
    )
    plan = Plan.objects.get(name="CPA 250")
    assert made.status_code == 302 and made["Location"] == f"/backoffice/ib/plans/{plan.pk}/"
    form = {
        "valid_from": (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "entry": "out",
        "min_hold_seconds": "60",
        "tiers": "difference",
        "note": "Launch",
        "rule-0-kind": "per_lot",
        "rule-0-symbol_group": "fx_major",
        "rule-0-rate": "4",
        "rule-1-kind": "cpa",
        "rule-1-rate": "250",
        "rule-1-min_deposit": "200",
        "rule-1-min_lots": "1",
        "rule-1-within_days": "30",
        "rule-1-clawback_days": "90",
        "rule-2-kind": "per_lot",  # an empty row: dropped
    }
    bad = client.post(f"/backoffice/ib/plans/{plan.pk}/", {**form, "rule-0-rate": "four"})
    assert bad.status_code == 400 and "is not a number" in bad.content.decode()
    assert not plan.versions.exists()
    saved = client.post(f"/backoffice/ib/plans/{plan.pk}/", form)
    version = plan.versions.get()
    assert saved.status_code == 302 and saved["Location"].endswith(f"/versions/{version.pk}/")
    cpa = version.rules.get(kind=PlanRule.Kind.CPA)
    assert (cpa.rate, cpa.min_deposit, cpa.min_lots, cpa.within_days, cpa.clawback_days) == (
        D("250"), D("200"), D("1"), 30, 90,
    )  # fmt: skip
    shown = client.get(f"/backoffice/ib/plans/versions/{version.pk}/").content.decode()
    assert "Draft" in shown and "FX major" in shown and "clawed back" in shown
    previewed = client.get(
        f"/backoffice/ib/plans/versions/{version.pk}/?preview=1&start=2026-01-01&end=2026-09-01"
    )
    assert "at most 92 days" in previewed.content.decode()
    previewed = client.get(f"/backoffice/ib/plans/versions/{version.pk}/?preview=1")
    assert previewed.status_code == 200 and "Would pay" in previewed.content.decode()
    client.post(f"/backoffice/ib/plans/versions/{version.pk}/", {"action": "publish"})
    version.refresh_from_db()
    assert version.published_at is not None
    assert AuditEvent.objects.filter(action="plan.version_published").exists()
    # the plan's page starts the next draft from the newest version's rates
    again = client.get(f"/backoffice/ib/plans/{plan.pk}/").content.decode()
    assert 'value="250"' in again and "Published" in again


def test_only_ib_managers_edit_plans(client, network):
    draft = leaf_draft(network)
    login(client, make_staff("finance_officer"))
    assert client.get("/backoffice/ib/plans/").status_code == 403
    assert (
        client.post(f"/backoffice/ib/plans/versions/{draft.pk}/", {"action": "publish"}).status_code
        == 403
    )
    login(client, network["top"].user)
    assert client.get(f"/backoffice/ib/plans/versions/{draft.pk}/").status_code in (302, 403)
    assert PlanVersion.objects.get(pk=draft.pk).published_at is None


def test_the_preview_prices_cpa_and_revenue_share_beside_what_was_paid(network, methods, client):
    """A draft raising the leaf's CPA (40 -> 60) and revenue share (20% -> 25%): the preview
    shows each partner's CPA and revenue share as paid and as the draft would pay them (the
    top earns the difference to its own), and writes nothing."""
    from ib.client_rules import cpa_pay, revshare_pay
    from tests.ib.test_client_rules import CPA_TERMS, funded, version

    for key, cpa, share in (("top", "100", "30"), ("leaf", "40", "20")):
        version(network[key], [{"symbol_group": "fx_major", "rate": "5"},
                               {"kind": "cpa", "rate": cpa, **CPA_TERMS},
                               {"kind": "revshare", "rate": share}])  # fmt: skip
    funded(network, methods)
    now = timezone.now()
    deal = trade(network["account"], volume=10000, at=now + timedelta(minutes=1))
    deal.__class__.objects.filter(pk=deal.pk).update(profit_amount=D("-1000"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    programme = network["top"].plans.first().plan.programme
    assert cpa_pay() == 2
    assert revshare_pay(programme=programme, start=start, end=end) == 2
    stored = list(CommissionLine.objects.order_by("pk").values_list("pk", "amount"))
    draft = plan_version_create(
        plan=Plan.objects.get(name="Leaf"),
        valid_from=now + timedelta(days=3),
        rules=[{"symbol_group": "fx_major", "rate": "5"},
               {"kind": "cpa", "rate": "60", **CPA_TERMS},
               {"kind": "revshare", "rate": "25"}],
        actor=ACTOR,
    )  # fmt: skip
    preview = version_preview(version=draft, start=start, end=end)
    rows = {(r.partner.referral_code, r.kind): (r.paid, r.would) for r in preview.client_rows}
    assert rows == {
        ("LEAFIB01", "cpa"): (D("40"), D("60")),
        ("TOPIB001", "cpa"): (D("60"), D("40")),
        ("LEAFIB01", "revshare"): (D("200"), D("250")),
        ("TOPIB001", "revshare"): (D("100"), D("50")),
    }
    totals = {k["kind"]: (k["paid"], k["would"]) for k in preview.client_kinds}
    assert totals == {"cpa": (D("100"), D("100")), "revshare": (D("300"), D("300"))}
    assert list(CommissionLine.objects.order_by("pk").values_list("pk", "amount")) == stored
    # the editor shows them side by side
    login(client, make_staff("ib_manager"))
    page = client.get(
        f"/backoffice/ib/plans/versions/{draft.pk}/",
        # at most tomorrow: a preview looks at deals already closed (an hour from now is
        # tomorrow after 23:00)
        {"preview": "1", "start": start.date().isoformat(),
         "end": (timezone.localdate() + timedelta(days=1)).isoformat()},
    )  # fmt: skip
    body = page.content.decode()
    assert page.status_code == 200 and "data-preview-clients" in body
    assert 'data-partner="LEAFIB01" data-kind="cpa"' in body and "Revenue share" in body
