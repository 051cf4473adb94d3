"""Demo IB commissions: a programme with plans, a three-level network under partner@demo.test
whose referred clients trade in the sandbox, their commissions paid, and last month's period
closed with statements, settlement and an automatic payout. The master IB's plan narrows two
rates to where clients live (FX majors for the Gulf, metals for the EEA). One of the
introducer's clients shares the introducer's phone, so its lines are withheld for review. The
partner has one open dispute of one of its lines, and one deal it was paid on was corrected by
the dealer on the platform afterwards (`deal_correct_once`): its lines reversed and paid again.

Installed by `seed_demo` after the trading book (whose deals it pays); idempotent: the
programme, plans and partners are found again by name and email, a plan gets its version
once, clients are referred once, the engine writes no line twice and a closed period is never
closed again.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from brokerage.models import Region, User
from brokerage.regions import region_save
from clients.models import Client, TradingAccount
from clients.services import client_kyc_level_set
from ib.disputes import dispute_open
from ib.engine import commissions_pay
from ib.models import (
    CommissionDispute,
    CommissionLine,
    CommissionPeriod,
    Partner,
    PartnerPlan,
    Referral,
)
from ib.periods import period_close
from ib.plans import (
    partner_parent_set,
    partner_plan_set,
    plan_create,
    plan_version_create,
    programme_create,
    referral_link_record,
)
from ib.services import partner_create, referral_attribute
from ib.wallets import partner_wallet_currency_set

from .finance import fx_rates_install
from .ib_links import install_demo_links
from .planted import planted_cases

HISTORY_DAYS = 35  # the book's history reaches 30 days back
PLANS = {
    "Master IB": {
        "fx_major": "10", "fx_minor": "8", "fx_exotic": "6", "metals": "12", "energies": "6",
        "indices": "3", "crypto": "5", "": "2",
    },
    "Sub-IB": {
        "fx_major": "6", "fx_minor": "5", "fx_exotic": "4", "metals": "8", "energies": "4",
        "indices": "2", "crypto": "3", "": "1",
    },
    "Introducer": {"fx_major": "3", "fx_minor": "2.5", "metals": "4", "": "0.5"},
}  # fmt: skip
# Plans of the other kinds, attached to nobody yet: what an IB manager can offer.
OTHER_PLANS = {
    "Commission share": [{"kind": "pct_commission", "rate": "30"}],
    "Markup share": [{"kind": "pct_markup", "rate": "40"}],
    "Affiliate CPA": [
        {"kind": "cpa", "rate": "250", "min_deposit": "200", "min_lots": "1",
         "within_days": "30", "clawback_days": "90"},
        # CPA by country, as brokers price it: a Gulf client is worth more
        {"kind": "cpa", "region": "GCC", "rate": "400", "min_deposit": "500", "min_lots": "2",
         "within_days": "30", "clawback_days": "90"},
    ],
    "Revenue share": [{"kind": "revshare", "rate": "25"}],
}  # fmt: skip
# Rates narrowed to where the client lives, on top of the master IB's rates by group.
OVERRIDES = {
    "Master IB": [
        {"symbol_group": "fx_major", "region": "GCC", "rate": "9"},
        {"symbol_group": "metals", "region": "EEA", "rate": "13"},
    ],
}
# The regions those rates name, as the installation ships them (made again where a test's
# database was emptied of what the migrations wrote).
REGIONS = {
    "GCC": ("Gulf Cooperation Council", "AE BH KW OM QA SA"),
    "EEA": (
        "European Economic Area",
        "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK",
    ),
}
NETWORK = [  # (email, company, code, parent email, plan)
    ("partner@demo.test", "Demo Partners Ltd", "DEMOIB", None, "Master IB"),
    ("subpartner@demo.test", "Demo Sub-IB", "DEMOSUB", "partner@demo.test", "Sub-IB"),
    ("introducer@demo.test", "Demo Introducer", "DEMOINTRO", "subpartner@demo.test", "Introducer"),
]
CLIENTS_PER_PARTNER = 20
PAYOUT_IBAN = "GB33BUKB20201555555555"


@transaction.atomic
def install_demo_ib(*, actor: str, password: str) -> dict:
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    programme = programme_create(
        name="Standard IB", actor=actor, auto_payout_threshold=Decimal("100.00")
    )
    for code, (name, countries) in REGIONS.items():
        if not Region.objects.filter(code=code).exists():
            region_save(actor=actor, code=code, name=name, countries=countries)
    plans = {}
    for name, rates in PLANS.items():
        plan = plan_create(programme=programme, name=name, actor=actor)
        if not plan.versions.exists():
            plan_version_create(
                plan=plan,
                valid_from=since,
                rules=[{"symbol_group": group, "rate": rate} for group, rate in rates.items()]
                + OVERRIDES.get(name, []),
                actor=actor,
                note="Demo rates per lot, by instrument group",
                publish=True,
            )
        plans[name] = plan
    for name, rules in OTHER_PLANS.items():
        plan = plan_create(programme=programme, name=name, actor=actor)
        if not plan.versions.exists():
            plan_version_create(
                plan=plan, valid_from=since, rules=rules, actor=actor, note="Demo", publish=True
            )
    _draft(plans["Sub-IB"], actor)
    partners: dict[str, Partner] = {}
    for email, company, code, parent_email, plan_name in NETWORK:
        user = _person(email, company, password)
        partner = partner_create(
            actor=actor,
            user=user,
            company_name=company,
            referral_code=code,
            parent=partners.get(parent_email),
        )
        partners[email] = partner
        if parent_email and not partner.parent_links.filter(valid_from__lte=since).exists():
            partner_parent_set(
                partner=partner,
                parent=partners[parent_email],
                actor=actor,
                reason="Demo: the network as it has stood for the month",
                valid_from=since,
            )
        if not PartnerPlan.objects.filter(partner=partner).exists():
            partner_plan_set(partner=partner, plan=plans[plan_name], actor=actor, valid_from=since)
    master = partners["partner@demo.test"]
    if not master.payout_iban:
        master.payout_iban = PAYOUT_IBAN
        master.save(update_fields=["payout_iban"])
    if master.holder.kyc_level < 1:
        client_kyc_level_set(
            client=master.holder,
            level=1,
            actor=actor,
            reason="Demo: the partner's identity and company documents verified.",
        )
    links = install_demo_links(partner=master, actor=actor)
    referred = _refer(partners, since, actor, links=[link.code for link in links])
    _related_client(partners["introducer@demo.test"])
    paid = commissions_pay(start=since, end=timezone.now())
    _wallet_in_euros(partners["subpartner@demo.test"], actor)
    closed = _close_last_month(programme, actor)
    disputed = _dispute_one(master)
    return {"referred": referred, "lines": paid["lines"], "period": closed, "dispute": disputed}


def _draft(plan, actor) -> None:
    """A proposed next version of the Sub-IB plan, not yet published: what the plan editor's
    preview compares with what was paid."""
    if plan.versions.count() > 1:
        return
    current = PLANS["Sub-IB"] | {"metals": "9", "crypto": "4"}
    today = timezone.now()
    plan_version_create(
        plan=plan,
        valid_from=(today.replace(day=1) + timedelta(days=32)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        ),
        rules=[{"symbol_group": group, "rate": rate} for group, rate in current.items()],
        actor=actor,
        note="Proposed: metals 9 and crypto 4 per lot",
    )


def _person(email: str, company: str, password: str) -> User:
    first, _, last = company.partition(" ")
    user, created = User.objects.get_or_create(
        email=email, defaults={"first_name": first, "last_name": last or "Partner"}
    )
    if created:
        user.set_password(password)
        user.save()
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
    return user


def _refer(partners: dict[str, Partner], since, actor, links: list[str]) -> int:
    """The first book clients with an account (never the named traders, nor the clients planted
    for AML monitoring's mirror trading, whose opposite trades the IB fraud checks would flag
    too), a score per partner, referred through its code (some of the master IB's through its
    campaign `links`); their IB from the start of their history. So the network's fraud checks
    find what the demo plants for them (`_related_client`) and nothing else."""
    if Referral.objects.filter(partner__in=partners.values()).count() >= CLIENTS_PER_PARTNER * 3:
        return 0
    taken = set(Referral.objects.values_list("client_id", flat=True))
    taken |= set(planted_cases()["mirror_trading"])
    with_accounts = TradingAccount.objects.filter(client__user__email__endswith="@book.demo.test")
    ids = [
        pk
        for pk in with_accounts.order_by("client_id").values_list("client_id", flat=True)
        if pk not in taken
    ][: CLIENTS_PER_PARTNER * len(partners)]
    clients = Client.objects.in_bulk(ids)
    made = 0
    for n, pk in enumerate(ids):
        partner = list(partners.values())[n % len(partners)]
        client = clients[pk]
        code = partner.referral_code
        if partner.referral_code == "DEMOIB" and n % 9 < 6:  # two in three of its clients
            code = links[n % 9 % len(links)]
        if referral_attribute(client=client, code=code, actor=actor):
            referral_link_record(
                client=client,
                partner=partner,
                actor=actor,
                at=since,
                reason="Demo: referred before their history began",
            )
            made += 1
    return made


RELATED_PHONE = "+447700900555"


def _related_client(introducer: Partner) -> None:
    """The introducer's own record has the phone of one of its referred clients: the fraud
    checks withhold its lines on that client for review (a related client)."""
    if introducer.holder.phone == RELATED_PHONE:
        return
    first = Referral.objects.filter(partner=introducer).order_by("client_id").first()
    if first is not None:
        Client.objects.filter(pk__in=[introducer.holder_id, first.client_id]).update(
            phone=RELATED_PHONE
        )


def _wallet_in_euros(partner: Partner, actor) -> None:
    """The sub-IB keeps its commissions wallet in euros: its period settles through the FX
    conversion account (finance's FX conversion page has a day to show)."""
    if partner.wallet_currency:
        return
    fx_rates_install()
    partner_wallet_currency_set(
        partner=partner, currency="EUR", actor=actor, reason="Demo: the sub-IB is paid in euros"
    )


def _close_last_month(programme, actor) -> int | None:
    """Close the programme's previous calendar month once (when the demo has deals in it)."""
    now = timezone.now()
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    if CommissionPeriod.objects.filter(programme=programme, start=last_month).exists():
        return None
    period = period_close(programme=programme, start=last_month, end=this_month, actor=actor)
    return period.pk


def _dispute_one(partner: Partner) -> int | None:
    """Once: the partner disputes its newest pending line (a settled one if none is pending)."""
    if CommissionDispute.objects.filter(partner=partner).exists():
        return None
    lines = CommissionLine.objects.filter(partner=partner, kind=CommissionLine.Kind.COMMISSION)
    line = (
        lines.filter(status=CommissionLine.Status.PENDING).order_by("-deal_time").first()
        or lines.filter(status=CommissionLine.Status.SETTLED).order_by("-deal_time").first()
    )
    if line is None:
        return None
    dispute = dispute_open(
        partner=partner,
        line_id=line.pk,
        reason="The client traded more lots on this deal than the line pays for: please check.",
        actor=partner.user,
    )
    return dispute.pk


def deal_correct_once(*, out=print) -> int | None:
    """Once: a deal the master IB was paid on (not the disputed one) is corrected by the dealer
    on the MT5 sandbox (half its volume); the deal is read back from the platform, recorded as
    a revision, and its lines are reversed and paid again at the new volume. Outside any
    transaction (it talks to the platform). Returns the revision's id, or None."""
    from clients.deal_review import deal_revise
    from clients.models import DealRevision
    from clients.platforms import DealRecord, PlatformError
    from clients.sync import server_held
    from ib.revisions import revision_pay

    from .trading import sandbox_control

    master = Partner.objects.filter(referral_code="DEMOIB").first()
    if (
        master is None
        or CommissionLine.objects.filter(partner=master, kind=CommissionLine.Kind.REVERSAL).exists()
    ):
        return None
    disputed = CommissionDispute.objects.values_list("line__deal_id", flat=True)
    line = (
        CommissionLine.objects.filter(
            partner=master, kind=CommissionLine.Kind.COMMISSION, deal__volume__gte=2
        )
        .exclude(deal_id__in=disputed)
        .filter(status=CommissionLine.Status.PENDING)
        .select_related("deal")
        .order_by("-deal_time")
        .first()
    )
    if line is None:
        return None
    deal = line.deal
    try:
        sandbox_control(
            "deal_update", {"ticket": deal.ticket, "fields": {"Volume": str(deal.volume // 2)}}
        )
    except Exception as exc:  # the sandbox is not running: the demo goes without it
        out(f"No deal corrected on the platform: {exc}")
        return None
    with server_held(deal.server_id) as (server, platform, problem):
        if platform is None:
            out(f"No deal corrected on the platform: {problem}")
            return None
        try:
            record = platform.deal_get(deal.ticket)
        except PlatformError as exc:
            out(f"No deal corrected on the platform: {exc.message}")
            return None
    if not isinstance(record, DealRecord):
        return None
    deal_revise(deal_id=deal.pk, record=record, changed=["volume"])  # it finds what differs
    revision = DealRevision.objects.filter(deal=deal).order_by("-number").first()
    if revision is None:
        return None
    paid = revision_pay(revision_id=revision.pk)
    out(
        f"Deal {deal.ticket} corrected on the platform: {paid['reversed']} lines reversed, "
        f"{paid['lines']} paid again."
    )
    return revision.pk
