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
