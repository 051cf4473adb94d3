"""IB commissions: programmes, versioned plans, the tree and referrals through time, and the
commission lines the engine writes (imported by `ib.models`).

- A `Programme` is a kind of partnership (how partners join, how often periods close). Its
  `Plan`s are priced by `PlanVersion`s: a version is a draft until published, then in force
  from `valid_from`; once it has paid a line it is immutable (the services refuse, and so
  does the database). A deal is paid by the version in force at the deal's close time.
- A version's `PlanRule`s are rates: per lot, or a percentage of the commission the client
  paid, for one symbol, a symbol group, or by default (looked up in that order; a symbol with
  no rate at all is reported as unpriced, never paid as zero). A rule may also be narrowed to
  the deal's account type and to the client's country or a `brokerage.Region` (a named set of
  countries); within each instrument level the most specific of those wins
  (`ib.world.rate_lookup`).
- `PartnerPlan` attaches a plan to a partner from a time (inherited down the tree unless a
  sub-IB has its own); `ParentLink` and `ReferralLink` keep the tree and the client's IB as
  they stood at any moment, so a deal is paid by the tree of its close time.
- `CommissionLine`: one per (deal, partner, tier, kind, revision), unique in the database, with
  the "why" (version, rule, rate, volume, base, formula) and the exact amount. A deal the
  platform corrected or removed keeps its lines: they are reversed and the deal paid again at
  its new values under its new revision number (`ib.revisions`); a line is never edited.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

RATE = {"max_digits": 20, "decimal_places": 6}
EXACT = {"max_digits": 24, "decimal_places": 8}
UNCHECKED = {"db_index": False, "db_constraint": False}


class Programme(models.Model):
    class Registration(models.TextChoices):
        PUBLIC = "public", "Public sign-up, approved by an IB manager"
        INVITATION = "invitation", "By a parent partner's invitation only"
        MANAGER = "manager", "Created by an IB manager"

    class Period(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    name = models.CharField(max_length=100, unique=True)
    registration = models.CharField(
        max_length=12, choices=Registration.choices, default=Registration.MANAGER
    )
    invited_need_approval = models.BooleanField(
        default=False,
        help_text="A sub-IB who joins by invitation waits for an IB manager's approval "
        "(otherwise it is active at once).",
    )
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTHLY)
    currency = models.CharField(max_length=3, default="USD", help_text="What partners are paid in.")
    auto_payout_threshold = models.DecimalField(
        max_digits=20,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Settled above this, a period's earnings are paid out automatically "
        "(through the withdrawal workflow). Empty: partners withdraw themselves.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Plan(models.Model):
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["programme", "name"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "name"], name="ib_plan_name_unique")
        ]

    def __str__(self):
        return self.name


class PlanVersion(models.Model):
    class Entry(models.TextChoices):
        OUT = "out", "Closing deals (per closed lot)"
        IN = "in", "Opening deals"
        BOTH = "both", "Both sides (per side)"

    class Tiers(models.TextChoices):
        DIFFERENCE = "difference", "Each level earns its rate less the level below's"
        PERCENT = "percent", "Each level earns a share of the level below's earning"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    valid_from = models.DateTimeField(help_text="Deals closed from then on are paid by it.")
    published_at = models.DateTimeField(null=True, blank=True)
    paid_lines = models.BooleanField(
        default=False, editable=False, help_text="It has paid a line: immutable from then on."
    )
    entry = models.CharField(max_length=4, choices=Entry.choices, default=Entry.OUT)
    min_hold_seconds = models.PositiveIntegerField(
        default=60, help_text="Positions held for less earn nothing."
    )
    tiers = models.CharField(max_length=10, choices=Tiers.choices, default=Tiers.DIFFERENCE)
    tier_percent = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal("0"),
        help_text="With tiers by share: the percent of the level below's earning.",
    )
    self_trading = models.BooleanField(
        default=False, help_text="Pay on the partner's own trading accounts."
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="ib_planversion_unique")
        ]

    def __str__(self):
        return f"{self.plan} v{self.number}"


class PlanRule(models.Model):
    class Kind(models.TextChoices):
        PER_LOT = "per_lot", "Amount per lot"
        PCT_COMMISSION = "pct_commission", "Percent of the client's commission"
        PCT_MARKUP = "pct_markup", "Percent of the markup"
        CPA = "cpa", "CPA per qualifying client"
        REVSHARE = "revshare", "Revenue share (percent of the client's net loss)"

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="rules")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PER_LOT)
    symbol = models.CharField(max_length=32, blank=True, help_text="A canonical symbol, or empty.")
    symbol_group = models.CharField(
        max_length=20, blank=True, help_text="An instrument group, or empty (with no symbol)."
    )
    # Narrower than the instrument: the deal's trading account type, and the client's country
    # of residence (as it stood when the deal closed) or a region containing it.
    account_type = models.ForeignKey(
        "clients.AccountType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only deals on this account type, or empty.",
    )
    country = models.CharField(
        max_length=2, blank=True, help_text="Only clients resident here (ISO 3166-1), or empty."
    )
    region = models.ForeignKey(
        "brokerage.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only clients resident in this region, or empty (with no country).",
    )
    rate = models.DecimalField(
        **RATE,
        help_text="Per lot or per qualifying client in the programme's currency, or a percent.",
    )
    # What qualifies a client for a CPA (kind cpa only): a first deposit of at least
    # `min_deposit` (programme currency) and `min_lots` closed within `within_days` of it; the
    # CPA is clawed back when a deposit of the client is charged back within `clawback_days`.
    min_deposit = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    min_lots = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    within_days = models.PositiveIntegerField(null=True, blank=True)
    clawback_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["version", "symbol", "symbol_group", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "version",
                    "kind",
                    "symbol",
                    "symbol_group",
                    "account_type",
                    "country",
                    "region",
                ],
                name="ib_planrule_unique_scope",
                nulls_distinct=False,
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(country="") | Q(region__isnull=True),
                name="ib_planrule_country_or_region",
            ),
            models.CheckConstraint(condition=Q(rate__gte=0), name="ib_planrule_rate_ge_0"),
            models.CheckConstraint(
                condition=Q(symbol="") | Q(symbol_group=""), name="ib_planrule_one_scope"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.scope}"

    @property
    def scope(self) -> str:
        """What the rule applies to, in words: "FX majors, account type Pro, Germany"."""
        from .world import scope_label

        return scope_label(
            self.symbol,
            self.symbol_group,
            self.account_type.name if self.account_type_id else "",
            self.country,
            self.region.name if self.region_id else "",
        )


class PartnerPlan(models.Model):
    """The plan a partner is paid by from `valid_from` (the latest one in force wins); a
    partner without one is paid by its parent's."""

    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="plans")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    set_by = models.CharField(max_length=254)
    set_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "valid_from"], name="ib_partnerplan_once_per_time"
            )
        ]

    def __str__(self):
        return f"{self.plan} for partner {self.partner_id} from {self.valid_from:%Y-%m-%d %H:%M}"


class ParentLink(models.Model):
    """The partner's parent from `valid_from` (empty: a top partner). The tree as it stood at
    any moment; written by `ib.services` whenever the parent changes."""

    partner = models.ForeignKey("ib.Partner", on_delete=models.PROTECT, related_name="parent_links")
    parent = models.ForeignKey(
        "ib.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    valid_from = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    set_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["partner", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "valid_from"], name="ib_parentlink_once_per_time"
            )
        ]

    def __str__(self):
        return f"partner {self.partner_id} under {self.parent_id or 'nobody'}"


class ReferralLink(models.Model):
    """The client's IB from `valid_from` (empty partner: none). Written on attribution and when
    an IB manager moves the client, from the date the manager chose (never silently back)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(
        "ib.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    valid_from = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    set_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["client", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "valid_from"], name="ib_referrallink_once_per_time"
            )
        ]

    def __str__(self):
        return f"client {self.client_id} via {self.partner_id or 'nobody'}"


class CommissionLine(models.Model):
    class Kind(models.TextChoices):
        COMMISSION = "commission", "Commission"
        REVERSAL = "reversal", "Reversal"
        ADJUSTMENT = "adjustment", "Adjustment"
        CPA = "cpa", "CPA"
        CLAWBACK = "clawback", "CPA clawback"
        REVSHARE = "revshare", "Revenue share"
        REBATE = "rebate", "Rebate to the client"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        WITHHELD = "withheld", "Withheld for review"
        DISPUTED = "disputed", "Disputed"
        SETTLED = "settled", "Settled"
        CANCELLED = "cancelled", "Cancelled"

    # Written a million at a time by the engine from rows it has just read: the keys are not
    # checked row by row at commit (a check per key per line was a fifth of a period's run).
    # Deals, clients and partners are never deleted, and a paid version and its rules cannot
    # change (migration 0007).
    deal = models.ForeignKey(
        "clients.Deal",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **UNCHECKED,
    )
    deal_time = models.DateTimeField(help_text="When the deal closed (UTC).")
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="+", **UNCHECKED
    )
    # Few indexes: each is paid on every line written (millions a period). The unique key
    # serves the deal, (partner, deal_time) the partner.
    partner = models.ForeignKey(
        "ib.Partner", on_delete=models.PROTECT, related_name="lines", **UNCHECKED
    )
    tier = models.PositiveSmallIntegerField(help_text="0: the client's own IB; 1 its parent ...")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.COMMISSION)
    version = models.ForeignKey(
        PlanVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **UNCHECKED,
    )
    rule = models.ForeignKey(
        PlanRule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **UNCHECKED,
    )
    symbol = models.CharField(max_length=32, blank=True)
    rate = models.DecimalField(**RATE)
    volume = models.BigIntegerField(default=0, help_text="1/10000 lot.")
    base_amount = models.DecimalField(**EXACT, default=0)
    formula = models.CharField(max_length=255)
    currency = models.CharField(max_length=3)
    # A line paid in another currency than its own (a rebate into a client's wallet kept in
    # another currency): the rate from `currency` to `paid_currency`, kept to 6 places; a CPA
    # whose qualifying deposit was in another currency: that currency's rate into the line's.
    fx_rate = models.DecimalField(**RATE, default=Decimal(1))
    paid_currency = models.CharField(
        max_length=3,
        blank=True,
        default="",
        db_default="",
        help_text="The currency the line is credited in, when not its own (see ib.fx).",
    )
    amount = models.DecimalField(**EXACT, help_text="Exact; rounded to cents at settlement.")
    # Settled into a partner's wallet kept in another currency than the line's (ib.wallets):
    # that currency and the rate from `currency` into it at the line's date (6 places).
    wallet_currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    wallet_rate = models.DecimalField(**RATE, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    hold_reasons = models.JSONField(
        null=True, blank=True, help_text="Why a line is withheld: [{code, message}]; empty if not."
    )
    period = models.ForeignKey(
        "ib.CommissionPeriod",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # What a line not tied to one deal is for, unique with (tier, kind): "cpa:<client>" (once per
    # client, its clawback under the same key), "rs:<period window>:<client>:<IB>".
    event_key = models.CharField(max_length=80, blank=True, db_default="")
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **UNCHECKED,
    )
    # The deal's revision a commission line pays (0: the deal as first synced; `Deal.revision`
    # after the platform corrected it); a reversal carries the revision of the line it reverses,
    # so the unique key lets each line be reversed once.
    revision = models.PositiveSmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deal_time", "tier"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "partner", "tier", "kind", "revision"],
                condition=Q(deal__isnull=False),
                name="ib_line_once_per_deal_revision",
            ),
            models.UniqueConstraint(
                fields=["event_key", "tier", "kind"],
                condition=~Q(event_key=""),
                name="ib_line_once_per_event_tier",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "deal_time"], name="ib_line_partner_time"),
            models.Index(
                fields=["period", "partner"],
                condition=Q(period__isnull=False),
                name="ib_line_period_partner",
            ),
            # the review queues: few lines, and an insert that is not one of them pays nothing
            models.Index(
                fields=["status", "partner"],
                condition=Q(status__in=["withheld", "disputed"]),
                name="ib_line_held",
            ),
            # the leadership rollup (ib.rollups): the lines of given days, and those written
            # since a watermark; lines come in time order, so block ranges serve at little cost
            BrinIndex(fields=["deal_time"], name="ib_line_deal_time_brin"),
            BrinIndex(fields=["created_at"], name="ib_line_created_brin"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.currency} to {self.partner_id}"


class UnpricedDeal(models.Model):
    """A deal a partner should earn on under its plan, with no rate for its symbol: reported to
    IB managers (fix the plan, then the sweeper pays it), never paid as zero silently."""

    deal = models.ForeignKey("clients.Deal", on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey("ib.Partner", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="+")
    symbol = models.CharField(max_length=32)
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-found_at"]
        constraints = [models.UniqueConstraint(fields=["deal", "partner"], name="ib_unpriced_once")]

    def __str__(self):
        return f"deal {self.deal_id} unpriced for partner {self.partner_id} ({self.symbol})"
