import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.test import override_settings

from brokerage.audit import audit_chain_verify, audit_seal_all
from brokerage.models import ApiKey, AuditEvent, Desk, User
from brokerage.roles import ROLES, role_of
from brokerage.services import api_key_authenticate
from brokerage.totp import totp_code
from clients.models import Client, Deal, RetentionFlag, TradingAccount
from clients.terms import terms_due
from demo.ib import RELATED_PHONE
from demo.planted import planted_cases
from finance.models import Transfer
from ib.models import Partner
from leads.models import NurtureSequence, NurtureStep, RoutingRule, ScoringRule
from tests.conftest import module_transaction

pytestmark = pytest.mark.django_db

DEMO = {
    "DEMO_PASSWORD": "pass-for-demo-1",
    "DEMO_TOTP_SECRET": "KRSXG5CTMVRXEZLU",
    "DEMO_API_KEY": "bo_test_demo_key_0123456789abcdef",
}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo seeded once for the module, in a transaction rolled back at its end; each
    test runs in a savepoint inside it (pytest-django's `db`), so it sees the seeded demo and
    leaves it as it found it. The MT5 sandbox lives as long."""
    from tests.mt5_support import MT5Sandbox

    sandbox = MT5Sandbox()
    overrides = override_settings(
        **DEMO,
        SANDBOX_MT5_URL=sandbox.url,
        SANDBOX_MT5_LOGIN=sandbox.login,
        SANDBOX_MT5_PASSWORD=sandbox.password,
    )
    try:
        with overrides, module_transaction(django_db_blocker):
            call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
            yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def demo(seeded, db):
    return seeded


from decimal import ROUND_HALF_UP, Decimal  # noqa: E402

from ib.models import (  # noqa: E402
    AgreementAcceptance,
    CampaignLink,
    CommissionDispute,
    CommissionLine,
    LinkClick,
    PartnerApplication,
    PartnerInvitation,
    PartnerStatement,
    PlanVersion,
    Referral,
)


def snapshot():
    return {
        "users": sorted(User.objects.values_list("email", "is_staff", "first_name")),
        "desks": sorted(Desk.objects.values_list("name", "manager__email")),
        "clients": Client.objects.count(),
        "partners": sorted(Partner.objects.values_list("referral_code", "parent__referral_code")),
        "authenticators": Authenticator.objects.count(),
        "keys": ApiKey.objects.count(),
        "events": AuditEvent.objects.count(),
        "accounts": TradingAccount.objects.count(),
        "deals": Deal.objects.count(),
        "transfers": Transfer.objects.count(),
        "flags": RetentionFlag.objects.filter(status="open").count(),
        "commission_lines": CommissionLine.objects.count(),
        "disputes": sorted(CommissionDispute.objects.values_list("line_id", "status")),
        "onboarding": (
            AgreementAcceptance.objects.count(),
            PartnerApplication.objects.count(),
            PartnerInvitation.objects.count(),
        ),
        "statements": sorted(
            PartnerStatement.objects.values_list("partner__referral_code", "amount", "outcome")
        ),
        "campaign_links": sorted(CampaignLink.objects.values_list("code", "name")),
        "link_clicks": LinkClick.objects.count(),
        "referrals_by_link": Referral.objects.filter(campaign_link__isnull=False).count(),
    }


def test_the_demo_partner_has_two_campaign_links_with_clicks_and_registrations(demo):
    from ib.selectors_links import link_funnels

    master = Partner.objects.get(referral_code="DEMOIB")
    links = list(CampaignLink.objects.filter(partner=master))
    assert len(links) == 2
    funnels = link_funnels(links)
    for link in links:
        assert funnels[link.pk]["clicks"] > funnels[link.pk]["registrations"] > 0, link
    assert Referral.objects.filter(partner=master, campaign_link=None).exists()  # its own code


def test_the_demo_network_earns_on_its_clients_trades_and_last_month_is_settled(demo):
    from finance.ledger import wallet_for

    chain = dict(Partner.objects.values_list("referral_code", "parent__referral_code"))
    assert chain["DEMOINTRO"] == "DEMOSUB" and chain["DEMOSUB"] == "DEMOIB"
    # the book's clients, less those planted for AML's mirror trading (never referred by the
    # demo network: their opposite trades would trip its fraud checks too)
    book = (
        Client.objects.filter(user__email__endswith="@book.demo.test")
        .exclude(pk__in=planted_cases()["mirror_trading"])
        .count()
    )
    assert Referral.objects.filter(partner__referral_code__startswith="DEMO").count() == min(
        60, book
    )
    lines = CommissionLine.objects.all()
    assert lines.filter(tier=2).exists(), "the master earns on its sub-sub-IB's clients"
    # every deal's levels sum to at most the master's rate for it (10 per FX-major lot)
    for line in lines.filter(tier=0, symbol="EURUSD")[:20]:
        paid = sum(CommissionLine.objects.filter(deal=line.deal).values_list("amount", flat=True))
        assert paid <= line.deal.volume * 10 / Decimal(10000)
    # one introducer's client shares the introducer's phone: its lines, and only they, wait
    # for review, for that reason only (the book's history is the same on every seeding: no
    # chance pair of opposite trades or burst of short holds trips another signal)
    withheld = lines.filter(status="withheld", partner__referral_code__startswith="DEMO")
    related = Client.objects.get(phone=RELATED_PHONE, partner_of=None)
    assert withheld.exists()
    assert {(line.partner.referral_code, line.client_id) for line in withheld} == {
        ("DEMOINTRO", related.pk)
    }
    assert {r["code"] for line in withheld for r in line.hold_reasons} == {"related_client"}
    assert all("Linked to the partner's own record" in r["message"] for line in withheld
               for r in line.hold_reasons)  # fmt: skip
    assert not lines.filter(partner__referral_code="DEMOINTRO", client=related, status="pending")
    master = Partner.objects.get(referral_code="DEMOIB")
    statement = PartnerStatement.objects.get(partner=master)
    assert statement.outcome == "credited" and statement.amount > 0
    # the sub-IB keeps its wallet in euros: its period settled through the FX conversion
    # account, each line at its rate, the euros credited rounded once
    sub = PartnerStatement.objects.get(partner__referral_code="DEMOSUB")
    assert (sub.currency, sub.wallet_currency) == ("USD", "EUR")
    assert sub.wallet_amount == sub.wallet_exact_amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert wallet_for(sub.partner.holder, "EUR").balance_amount >= sub.wallet_amount - Decimal(
        sub.payout_reference and sub.wallet_amount or 0
    )
    assert wallet_for(master.holder, "USD").balance_amount >= statement.amount - Decimal(
        statement.payout_reference and statement.amount or 0
    )
    # the master's plan narrows rates to where clients live (the Gulf, the EEA)
    scoped = master.plans.get().plan.versions.get().rules.exclude(region=None)
    assert {(r.symbol_group, r.region.code) for r in scoped} == {
        ("fx_major", "GCC"),
        ("metals", "EEA"),
    }
    # the affiliate CPA pays more for a client in the Gulf than by default
    cpa = {
        (r.region.code if r.region else ""): r.rate
        for r in PlanVersion.objects.get(plan__name="Affiliate CPA").rules.filter(kind="cpa")
    }
    assert cpa == {"": Decimal("250"), "GCC": Decimal("400")}
    # one deal the master was paid on was corrected on the platform afterwards: its lines
    # reversed once and the deal paid again at its new volume
    reversal = lines.get(kind="reversal", partner=master)
    deal = reversal.deal
    assert deal.revision == 1 and reversal.amount == -reversal.reverses.amount
    again = lines.get(deal=deal, partner=master, kind="commission", revision=1)
    assert again.volume == deal.volume == reversal.reverses.volume // 2
    # one open dispute by the master on one of its lines, held out of settlement
    dispute = CommissionDispute.objects.get(partner=master)
    assert dispute.status == "open" and dispute.line.partner == master
    assert dispute.line.status in ("disputed", "settled")


def test_the_demo_onboards_partners(demo):
    """A public programme with agreement v1 accepted by the demo's partners, one public
    application awaiting approval and one open invitation from the demo partner."""
    applicant = PartnerApplication.objects.get(partner__user__email="applicant@demo.test")
    assert applicant.partner.status == "pending" and applicant.via == "public"
    assert applicant.programme.registration == "public"
    for code in ("DEMOIB", "DEMOSUB", "DEMOINTRO"):
        acceptance = AgreementAcceptance.objects.get(partner__referral_code=code)
        assert acceptance.agreement.version == 1
    invitation = PartnerInvitation.objects.get(inviter__referral_code="DEMOIB")
    assert invitation.used_at is None and invitation.withdrawn_at is None


def test_seeding_twice_gives_the_same_data(demo):
    first = snapshot()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == first
    assert audit_seal_all() and audit_chain_verify().ok


def test_a_staff_user_per_role_with_password_and_totp(demo):
    for slug in ROLES:
        user = User.objects.get(email=f"{slug}@demo.test")
        assert user.is_staff and role_of(user) == slug
        assert user.check_password(DEMO["DEMO_PASSWORD"])
        assert EmailAddress.objects.get(user=user).verified
        assert Authenticator.objects.filter(user=user, type="totp").exists()


def test_desks_with_agents(demo):
    assert set(Desk.objects.values_list("name", flat=True)) == {"Dubai", "London", "Global"}
    for desk in Desk.objects.all():
        agents = User.objects.filter(staff_profile__desk=desk, groups__name="Sales agent")
        assert agents.exists(), desk
    dubai = User.objects.filter(staff_profile__desk__name="Dubai", groups__name="Sales agent")
    assert all("ar" in u.staff_profile.languages for u in dubai)


def test_demo_client_partner_and_api_key(demo):
    demo_client = Client.objects.get(user__email="client@demo.test")
    assert demo_client.user.is_staff is False
    # Every client accepted the terms in force when signing up: the portal asks nothing first.
    assert not any(terms_due(c) for c in Client.objects.filter(holder="client"))
    assert demo_client.terms_acceptances.count() == 3
    master = Partner.objects.get(user__email="partner@demo.test")
    assert master.sub_partners.count() == 1
    key = api_key_authenticate(DEMO["DEMO_API_KEY"])
    assert key is not None and key.name == "Demo landing page"


def test_demo_login_passes_mfa_with_the_demo_secret(demo, client):
    client.post(
        "/accounts/login/", {"login": "desk_manager@demo.test", "password": DEMO["DEMO_PASSWORD"]}
    )
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(DEMO["DEMO_TOTP_SECRET"])})
    assert client.get("/backoffice/team/").status_code == 200


def test_changed_demo_key_is_rotated(demo, settings):
    settings.DEMO_API_KEY = "bo_rotated_demo_key_abcdefghijklmnop"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert api_key_authenticate(DEMO["DEMO_API_KEY"]) is None
    assert api_key_authenticate(settings.DEMO_API_KEY) is not None
    assert ApiKey.objects.count() == 1


def test_the_trading_book_comes_from_the_sandbox(demo):
    """Named traders have funded accounts with history; the book's clients have accounts and
    deals synced from the sandbox; quiet, losing traders are in the retention queue."""
    client = Client.objects.select_related("desk", "account_manager").get(
        user__email="client@demo.test"
    )
    assert client.desk.name == "London"
    assert client.account_manager.email == "retention_agent@demo.test"
    account = TradingAccount.objects.get(client=client)
    assert Transfer.objects.filter(client=client, status="completed").exists()
    assert Deal.objects.filter(account=account, action=2, comment__startswith="BO-TR-").exists()
    assert Deal.objects.filter(account=account, action__in=[0, 1]).count() >= 20
    book = Client.objects.filter(user__email__endswith="@book.demo.test")
    assert book.count() == 24
    assert Deal.objects.filter(client__in=book).count() >= 24 * 39  # quiet ones: none open
    assert book.filter(desk__isnull=False).count() == 24
    # Opened at 1:100: those whose clients' limits cap them lower are marked for the platform.
    from brokerage.models import LeverageLimit
    from clients.models import PlatformRestraint

    capped = set(book.exclude(country__in=["AE", "SG", "ZA", "CH"]).values_list("pk", flat=True))
    due = PlatformRestraint.objects.filter(account__client__in=book, due_since__isnull=False)
    expected = capped if LeverageLimit.objects.exists() else set()
    assert set(due.values_list("account__client_id", flat=True)) == expected
    flagged = RetentionFlag.objects.get(client__user__email="trader03@demo.test", status="open")
    codes = {s["code"] for s in flagged.signals}
    assert {"inactive", "losing_streak"} <= codes
    assert not RetentionFlag.objects.filter(client=client, status="open").exists()


def rule_history_counts():
    return {
        model.__name__: model.history.count()
        for model in (RoutingRule, ScoringRule, NurtureSequence, NurtureStep)
        if hasattr(model, "history")
    } | {"steps": sorted(NurtureStep.objects.values_list("pk", "subject", "delay_minutes"))}


def test_seeding_again_leaves_the_rules_and_an_admins_edits_alone(demo):
    routing = RoutingRule.objects.get(name="UAE leads to the Dubai desk")
    routing.order = 55
    routing.conditions = [{"field": "country", "op": "in", "value": ["AE", "SA"]}]
    routing.save()  # as the admin saves it
    scoring = ScoringRule.objects.order_by("order").first()
    scoring.points = 77
    scoring.save()
    renamed = RoutingRule.objects.get(name="Everyone else to the Global desk")
    renamed.name = "Everyone else: Global"
    renamed.save()
    counts = rule_history_counts()
    rules = sorted(RoutingRule.objects.values_list("name", "order"))

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert rule_history_counts() == counts
    assert sorted(RoutingRule.objects.values_list("name", "order")) == rules
    routing.refresh_from_db()
    assert routing.order == 55 and routing.conditions[0]["value"] == ["AE", "SA"]
    scoring.refresh_from_db()
    assert scoring.points == 77


def test_the_demo_has_jurisdiction_rules_in_force_and_one_scheduled(demo):
    from brokerage.models import CountryRule
    from compliance.models import RuleApplication

    rules = {r.country: r for r in CountryRule.objects.all()}
    assert {"US", "IR", "KP", "SY", "MM", "BY", "NG"} <= set(rules)
    assert rules["BY"].in_force() and rules["BY"].kind == "restricted"
    assert rules["NG"].state() == "scheduled"
    restricted = RuleApplication.objects.get(rule=rules["BY"], lifted_at=None).client
    assert restricted.user.email == "restricted.client@demo.test"


def test_the_demo_book_has_a_year_and_its_planted_clients_wait_as_alerts(demo):
    from compliance.monitoring.models import Alert
    from demo.planted import planted_cases
    from finance.ledger import ledger_verify
    from finance.models import Deposit

    cases = planted_cases()
    assert all(len(ids) == 2 for ids in cases.values())
    alerted = set(Alert.objects.values_list("scenario__code", "client_id"))
    assert all((code, pk) in alerted for code, ids in cases.items() for pk in ids)
    book = Client.objects.filter(user__email__endswith="@book.demo.test")
    assert Deposit.objects.filter(client__in=book, status="completed").exists()
    assert ledger_verify()[1] is None


def test_the_demo_client_s_dossier_opens_and_its_chain_proof_verifies(demo, tmp_path):
    """The issue's "done when": a demo client's dossier, its parts filled from the demo, and
    its audit proof checked by the bundled script and against the chain."""
    import json
    import subprocess
    import sys
    import zipfile

    audit_seal_all()
    client = Client.objects.get(user__email="client@demo.test")
    out = tmp_path / "dossier.zip"
    call_command("client_dossier", str(client.pk), "--out", str(out))
    archive = zipfile.ZipFile(out)
    assert archive.read("dossier.pdf").startswith(b"%PDF")

    def rows(table):
        return json.loads(archive.read(f"data/{table}.json"))["rows"]

    assert len(rows("agreements_accepted")) == 3
    assert rows("deposits") and rows("deals")
    archive.extractall(tmp_path / "x")
    proof = tmp_path / "x" / "audit" / "proof.json"
    assert json.loads(proof.read_text())["events"]
    script = [sys.executable, str(tmp_path / "x" / "audit" / "verify.py"), str(proof)]
    run = subprocess.run(script, capture_output=True, text=True, check=False)  # noqa: S603
    assert run.returncode == 0 and run.stdout.startswith("OK:"), run.stdout + run.stderr
    call_command("audit_verify", "--dossier", str(out))
