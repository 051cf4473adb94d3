"""Clients: the trader's record and standing. Other apps write it through clients.services."""

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from brokerage.models import ClientCategory

from .payment_reference import new_client_reference

RISK_RATINGS = [("low", "Low risk"), ("medium", "Medium risk"), ("high", "High risk")]


class Client(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", "Registered"
        ACTIVE = "active", "Active"
        DORMANT = "dormant", "Dormant"
        CLOSED = "closed", "Closed"

    class Holder(models.TextChoices):
        CLIENT = "client", "Client"
        PARTNER = "partner", "IB partner"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client"
    )
    # The account holder's kind: a trading client, or an IB partner holding its commissions.
    # Both hold wallets, withdraw and pass KYC under the same rules; client lists, dashboards
    # and retention count clients only.
    holder = models.CharField(
        max_length=10, choices=Holder.choices, default=Holder.CLIENT, db_default=Holder.CLIENT
    )
    legal_name = models.CharField(
        max_length=140,
        blank=True,
        default="",
        db_default="",
        help_text="The name money is paid to when it is not the person's (a partner's company).",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REGISTERED)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    nationality = models.CharField(
        max_length=2,
        blank=True,
        default="",
        db_default="",
        help_text="ISO 3166-1 alpha-2, as declared in the client's KYC (kyc writes it).",
    )
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    category = models.CharField(
        max_length=24,
        choices=ClientCategory.choices,
        default=ClientCategory.RETAIL,
        db_default=ClientCategory.RETAIL,
        help_text="Set by compliance (clients.categories); its leverage limits follow it.",
    )
    # Standing: written by kyc and compliance through clients.services, read by finance.
    kyc_level = models.PositiveSmallIntegerField(
        default=0, help_text="0 unverified, 1 identity and address verified."
    )
    kyc_verified_at = models.DateTimeField(null=True, blank=True)
    id_document_expires_on = models.DateField(null=True, blank=True)
    restricted = models.BooleanField(default=False)
    restriction_reason = models.CharField(max_length=200, blank=True)
    aml_case_open = models.BooleanField(
        default=False, help_text="An AML case is open on the client (set by compliance)."
    )
    # Compliance's risk rating (compliance.risk); high risk means enhanced due diligence.
    risk_rating = models.CharField(
        max_length=6, blank=True, default="", db_default="", choices=RISK_RATINGS
    )
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    risk_rated_at = models.DateTimeField(null=True, blank=True)
    enhanced_due_diligence = models.BooleanField(default=False, db_default=False)
    risk_flags = models.JSONField(
        default=list, blank=True, help_text='Standing flags, e.g. ["chargeback"].'
    )
    first_deposit_at = models.DateTimeField(
        null=True, blank=True, help_text="The FTD: when the client first funded their wallet."
    )
    # Ownership: the desk and account manager who look after the client (from the lead).
    desk = models.ForeignKey(
        "brokerage.Desk", null=True, blank=True, on_delete=models.SET_NULL, related_name="clients"
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_clients",
    )
    last_trade_at = models.DateTimeField(
        null=True, blank=True, help_text="The newest deal synced from any trading account."
    )
    payment_reference = models.CharField(
        max_length=25,
        unique=True,
        default=new_client_reference,
        editable=False,
        help_text="What the client writes on a bank wire (ISO 11649 RF creditor reference).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("view_all_clients", "Can see every client's 360"),
            ("view_desk_clients", "Can see the 360 of the desk's clients"),
            ("work_retention", "Can work the retention queue"),
            ("manage_retention", "Can configure retention thresholds and templates"),
            ("answer_tickets", "Can answer and close support tickets"),
            ("view_platform_sync", "Can see trading platform sync status"),
            ("manage_aml_case", "Can open and close a client's AML case"),
            ("review_client_emails", "Can review the emails clients are sent"),
            ("decide_category", "Can decide a client's category"),
            ("change_account_leverage", "Can change a trading account's leverage"),
            ("publish_terms", "Can publish a new version of the client terms"),
        ]
        indexes = [
            # the clients sharing a phone number (clients.links), without reading every client
            models.Index(fields=["phone"], condition=~Q(phone=""), name="clients_client_phone"),
        ]

    def __str__(self):
        return f"Client {self.pk} ({self.user.email})"


MONEY = {"max_digits": 20, "decimal_places": 2}
PRICE = {"max_digits": 24, "decimal_places": 8}


# --- Trading platforms -------------------------------------------------------------------------


class TradingServer(models.Model):
    """A trading platform server the brokerage runs (an MT5 server reached by its Web API)."""

    class Platform(models.TextChoices):
        MT5 = "mt5", "MetaTrader 5 (Web API)"

    name = models.CharField(max_length=80, unique=True)
    platform = models.CharField(max_length=10, choices=Platform.choices, default=Platform.MT5)
    url = models.URLField(help_text="Web API base URL, e.g. https://mt5.example.com:443")
    manager_login = models.CharField(max_length=20)
    manager_password = models.CharField(
        max_length=500, help_text="Stored encrypted; write the plain password in admin."
    )
    timezone = models.CharField(
        max_length=64,
        default="Europe/Athens",
        help_text="The server's local time zone (IANA); its times are converted to UTC.",
    )
    symbol_suffixes = models.JSONField(
        default=list,
        blank=True,
        help_text='Broker suffixes stripped from symbols, e.g. [".m", ".pro", ".cash"].',
    )
    is_active = models.BooleanField(default=True)
    # What clients are shown on the portal's trading pages for this server.
    download_url = models.URLField(
        blank=True, help_text="Where clients download the platform (desktop and mobile apps)."
    )
    web_terminal_url = models.URLField(
        blank=True, help_text="The platform's web terminal, opened in the browser."
    )
    batch_size = models.PositiveIntegerField(
        default=500, help_text="Logins per batched call (deals, positions, accounts)."
    )
    max_requests_per_second = models.PositiveIntegerField(
        default=10, help_text="The sync never calls the server faster than this."
    )
    backfill_hours = models.PositiveIntegerField(
        default=72, help_text="How far back a new account's (or a first) sync reaches."
    )
    overlap_seconds = models.PositiveIntegerField(
        default=120, help_text="Each sync re-reads this much before its cursor (late deals)."
    )
    deals_review_days = models.PositiveSmallIntegerField(
        default=3,
        db_default=3,
        help_text="How many days back the deals review re-reads what the platform reports, to "
        "find deals its dealers corrected or deleted (0: no review).",
    )
    # Sync state (written by the sync service only).
    deals_synced_through = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Every deal up to here is ingested."
    )
    positions_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    accounts_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(
        excluded_fields=[
            "deals_synced_through",
            "positions_synced_at",
            "accounts_refreshed_at",
            "last_error",
            "last_error_at",
        ]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AccountType(models.Model):
    """What the portal offers: an MT5 group with its currency and leverages; the book its
    trades go to, and its markups per instrument (`AccountTypeMarkup`)."""

    class Book(models.TextChoices):
        A_BOOK = "a_book", "A-book (passed to liquidity providers)"
        B_BOOK = "b_book", "B-book (kept in house)"

    server = models.ForeignKey(
        TradingServer, on_delete=models.PROTECT, related_name="account_types"
    )
    name = models.CharField(max_length=80)
    group = models.CharField(max_length=64, help_text="The platform group, e.g. real\\standard-usd")
    currency = models.CharField(max_length=3)
    leverages = models.JSONField(default=list, help_text="Leverages offered, e.g. [30, 100, 200].")
    default_leverage = models.PositiveIntegerField(default=100)
    instrument_classes = models.JSONField(
        default=list,
        blank=True,
        db_default=[],
        help_text="The instrument classes its group trades where a leverage limit may not allow "
        'one, e.g. ["crypto"]: a client that class is not allowed to cannot open it. Empty: '
        "none declared.",
    )
    close_only_group = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="The platform group, set up like this type's group but with every symbol's "
        "trade mode close only (MT5: symbol settings of the group), that an account moves to "
        "while its client may not trade (a confirmed sanctions match, a restricted country) "
        "and back from when that ends. Empty: trading is disabled on the account instead.",
    )
    min_kyc_level = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)
    book = models.CharField(
        max_length=10,
        choices=Book.choices,
        blank=True,
        help_text="Where its clients' trades go; empty until ops set it.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["server", "name"], name="clients_accounttype_unique")
        ]

    def __str__(self):
        return f"{self.name} ({self.server})"

    def clean(self):
        from django.core.exceptions import ValidationError

        from .instruments import LEVERAGE_CLASS_LABELS

        classes = self.instrument_classes
        if not isinstance(classes, list) or any(c not in LEVERAGE_CLASS_LABELS for c in classes):
            raise ValidationError(
                {
                    "instrument_classes": "A list of instrument classes: "
                    + ", ".join(f'"{c}"' for c in LEVERAGE_CLASS_LABELS)
                    + "."
                }
            )


class TradingAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="trading_accounts")
    server = models.ForeignKey(TradingServer, on_delete=models.PROTECT, related_name="accounts")
    account_type = models.ForeignKey(
        AccountType, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    login = models.BigIntegerField()
    group = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    leverage = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Refreshed from the platform by the sync (never written from our side).
    balance_amount = models.DecimalField(**MONEY, default=0)
    credit_amount = models.DecimalField(**MONEY, default=0)
    equity_amount = models.DecimalField(**MONEY, default=0)
    margin_amount = models.DecimalField(**MONEY, default=0)
    margin_free_amount = models.DecimalField(**MONEY, default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_trade_at = models.DateTimeField(null=True, blank=True)
    backfill_pending = models.BooleanField(
        default=True, help_text="The next sync reads this account's history (backfill window)."
    )
    # All-time trading figures, kept by a database trigger on every insert of deals (migration
    # clients 0007), so a heavy trader's totals cost one row, not a scan of their deals.
    trade_deals = models.PositiveIntegerField(default=0, editable=False)
    closed_trades = models.PositiveIntegerField(default=0, editable=False)
    won_trades = models.PositiveIntegerField(default=0, editable=False)
    closed_volume = models.BigIntegerField(default=0, editable=False, help_text="1/10000 lot")
    realized_pl_amount = models.DecimalField(
        **MONEY, default=0, editable=False, help_text="Net of swap and commission."
    )
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["server", "login"], name="clients_account_login_unique")
        ]

    def __str__(self):
        return f"{self.login} ({self.server})"


class AccountOpening(models.Model):
    """A request to open a trading account, exactly once.

    The platform's `user/add` has no idempotency key: the opening's `reference` travels as the
    new account's comment, and when the answer is lost the account is looked up by it (at once,
    then by the sweeper) before the client may open another. An account found later is linked
    to the client, who sets its password in the portal."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being confirmed"
        OPENED = "opened", "Opened"
        FAILED = "failed", "Not opened"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="account_openings")
    account_type = models.ForeignKey(AccountType, on_delete=models.PROTECT, related_name="+")
    leverage = models.PositiveIntegerField()
    reference = models.CharField(max_length=32, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    account = models.OneToOneField(
        TradingAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="opening"
    )
    lookups = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.CharField(max_length=255, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "requested_at"])]

    def __str__(self):
        return f"Account opening {self.reference}"


class PlatformRestraint(models.Model):
    """What the product imposed on one trading account on its platform, and what the account
    had before, so that lifting it restores exactly that and nothing else
    (`clients.trading.reach`).

    `due_since` is set, in the same transaction as the change of standing that calls for it,
    whenever the account must be brought in step with its client's standing (trading disabled
    or not, leverage capped or not); the reconcile clears it once the platform has it, and the
    sweeper retries those left due (the platform down: retried, never lost)."""

    account = models.OneToOneField(
        TradingAccount, on_delete=models.PROTECT, related_name="restraint"
    )
    trading_disabled = models.BooleanField(
        default=False, help_text="Trading disabled on the platform by the product."
    )
    was_trading_disabled = models.BooleanField(
        default=False, help_text="Trading was already disabled before (a lift leaves it so)."
    )
    leverage_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="The leverage the product lowered the account to."
    )
    leverage_before = models.PositiveIntegerField(
        null=True, blank=True, help_text="The account's leverage before it was lowered."
    )
    leverage_wanted = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A leverage staff set, until the platform has it.",
    )
    rights_before = models.BigIntegerField(
        null=True, blank=True, help_text="The platform's permission flags before (evidence)."
    )
    moved_to_group = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="The close-only group the product moved the account to.",
    )
    group_before = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="The account's group before it was moved (a lift moves it back).",
    )
    reasons = models.JSONField(default=list, blank=True, help_text="Standing codes in force.")
    due_since = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Platform restraint on {self.account_id}"

    @property
    def in_force(self) -> bool:
        return self.trading_disabled or bool(self.moved_to_group) or self.leverage_cap is not None


class CategoryRequest(models.Model):
    """A client's request to be treated as a professional client (MiFID II Annex II, elective
    professional), decided by a compliance officer with the criteria found and the evidence
    seen: two of three must be met (`clients.categories`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for compliance"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="category_requests")
    category = models.CharField(max_length=24, choices=ClientCategory.choices)
    statement = models.TextField(
        max_length=2000, help_text="What the client says of their trading, portfolio and work."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trades_met = models.BooleanField(
        "10 significant trades a quarter over the last four quarters", default=False
    )
    portfolio_met = models.BooleanField("a portfolio over EUR 500,000", default=False)
    experience_met = models.BooleanField(
        "at least a year's relevant professional work", default=False
    )
    evidence = models.TextField(max_length=2000, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(status="pending"),
                name="category_request_one_pending",
            )
        ]

    def __str__(self):
        return f"Category request {self.pk} ({self.client_id})"

    @property
    def criteria_met(self) -> int:
        return sum((self.trades_met, self.portfolio_met, self.experience_met))


class Deal(models.Model):
    """A deal synced from the platform; one row per (server, ticket). It changes only when the
    deals review (`clients.deal_review`) finds the platform corrected or deleted it: each change
    is a `DealRevision` first, and a deleted deal is marked `removed_at`, never deleted."""

    class Action(models.IntegerChoices):
        BUY = 0, "Buy"
        SELL = 1, "Sell"
        BALANCE = 2, "Balance"
        CREDIT = 3, "Credit"
        CHARGE = 4, "Charge"
        CORRECTION = 5, "Correction"
        BONUS = 6, "Bonus"
        COMMISSION = 7, "Commission"

    class Entry(models.IntegerChoices):
        IN = 0, "In"
        OUT = 1, "Out"
        INOUT = 2, "Reverse"
        OUT_BY = 3, "Close by"

    server = models.ForeignKey(TradingServer, on_delete=models.PROTECT, related_name="+")
    ticket = models.BigIntegerField()
    account = models.ForeignKey(TradingAccount, on_delete=models.PROTECT, related_name="deals")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="deals")
    time = models.DateTimeField(help_text="UTC (converted from the server's local time).")
    action = models.PositiveSmallIntegerField(choices=Action.choices)
    entry = models.PositiveSmallIntegerField(choices=Entry.choices, default=Entry.IN)
    symbol = models.CharField(max_length=32, blank=True, help_text="Canonical symbol.")
    volume = models.BigIntegerField(default=0, help_text="In 1/10000 lot (10000 = 1 lot).")
    volume_ext = models.BigIntegerField(
        default=0, help_text="In 1/100000000 lot, when the platform reports it (MT5 VolumeExt)."
    )
    price = models.DecimalField(**PRICE, default=0)
    profit_amount = models.DecimalField(**MONEY, default=0)
    swap_amount = models.DecimalField(**MONEY, default=0)
    commission_amount = models.DecimalField(**MONEY, default=0)
    position_id = models.BigIntegerField(default=0)
    comment = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(auto_now_add=True)
    # How many revisions the platform made to it (0: as first synced), and when it was found
    # deleted on the platform.
    revision = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-time", "-ticket"]
        constraints = [
            models.UniqueConstraint(fields=["server", "ticket"], name="clients_deal_ticket_unique")
        ]
        indexes = [
            # a client's deals by time; it carries what the IB burst check reads of a client's
            # day (sync passes' new deals), so that check reads the index only
            models.Index(
                fields=["client", "time"],
                include=["server", "position_id", "entry", "action", "volume"],
                name="clients_deal_client_time",
            ),
            models.Index(fields=["account", "time"], name="clients_deal_account_time"),
            # a closing deal's position, for how long it was held (IB commissions): the time
            # included, so the look-up (once per closing deal of a period) reads the index only
            models.Index(
                fields=["server", "position_id"],
                include=["time"],
                condition=Q(entry=0),
                name="clients_deal_position_opened",
            ),
            # Opposite trades (clients.links): the sells opened on a symbol within seconds of
            # a buy, found by range without reading each account of the set in turn; it carries
            # what a sync pass's probes read, so they read the index only.
            models.Index(
                fields=["symbol", "time"],
                include=["id", "action", "client", "account"],
                name="clients_deal_opening_symbol",
                condition=Q(entry=0, action__in=[0, 1]),
            ),
            # The leadership rollups (clients.rollups): the deals of given days, and those a
            # sync pass stored since a watermark. Deals arrive roughly in time order, so block
            # ranges serve both at a fraction of a b-tree's cost on the sync's inserts.
            BrinIndex(fields=["time"], name="clients_deal_time_brin"),
            BrinIndex(fields=["synced_at"], name="clients_deal_synced_brin"),
        ]

    def __str__(self):
        return f"Deal {self.ticket}"

    @property
    def lots(self):
        from .platforms.base import lots_of

        return lots_of(self.volume, self.volume_ext)

    @property
    def net_amount(self):
        return self.profit_amount + self.swap_amount + self.commission_amount

    @property
    def revision_label(self) -> str:
        """ "Removed on the platform", "Corrected on the platform", or empty."""
        if self.removed_at:
            return "Removed on the platform"
        return "Corrected on the platform" if self.revision else ""


class DealRevision(models.Model):
    """A change the platform made to a stored deal, found by the deals review: the fields that
    matter before and after (after is empty for a removed deal). Append-only: written once,
    never updated; the IB commissions reverse and pay again from it (`ib.revisions`)."""

    class Kind(models.TextChoices):
        CORRECTED = "corrected", "Corrected on the platform"
        REMOVED = "removed", "Removed on the platform"

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveSmallIntegerField(help_text="1 for the deal's first revision ...")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    before = models.JSONField(help_text="The fields that matter, as stored until then.")
    after = models.JSONField(null=True, blank=True, help_text="As the platform now reports.")
    changed = models.JSONField(default=list, help_text="The names of the fields that changed.")
    detected_at = models.DateTimeField()
    sync_run = models.ForeignKey(
        "clients.SyncRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["deal", "number"], name="clients_dealrevision_once")
        ]

    def __str__(self):
        return f"Deal {self.deal_id} {self.get_kind_display().lower()} ({self.number})"


class Position(models.Model):
    """An open position as the platform last reported it (replaced at every sync)."""

    server = models.ForeignKey(TradingServer, on_delete=models.PROTECT, related_name="+")
    position_id = models.BigIntegerField()
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="positions")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=32)
    action = models.PositiveSmallIntegerField(choices=[(0, "Buy"), (1, "Sell")])
    volume = models.BigIntegerField(help_text="In 1/10000 lot.")
    volume_ext = models.BigIntegerField(default=0, help_text="In 1/100000000 lot (MT5 VolumeExt).")
    price_open = models.DecimalField(**PRICE)
    price_current = models.DecimalField(**PRICE)
    profit_amount = models.DecimalField(**MONEY, default=0)
    swap_amount = models.DecimalField(**MONEY, default=0)
    opened_at = models.DateTimeField()
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "position_id"], name="clients_position_unique"
            )
        ]

    def __str__(self):
        return f"Position {self.position_id}"

    @property
    def lots(self):
        from .platforms.base import lots_of

        return lots_of(self.volume, self.volume_ext)


class SyncRun(models.Model):
    """One sync pass against a server: what was read, kept, refused, and how long it took."""

    class Kind(models.TextChoices):
        DEALS = "deals", "Deals"
        POSITIONS = "positions", "Positions"
        ACCOUNTS = "accounts", "Accounts"
        REVIEW = "review", "Deals review"

    server = models.ForeignKey(TradingServer, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    window_from = models.DateTimeField(null=True, blank=True)
    window_to = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    ingested = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["server", "kind", "-started_at"], name="clients_syncrun_recent")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} sync of {self.server_id} at {self.started_at:%F %R}"

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds() * 1000)


class SyncRejection(models.Model):
    """A record the sync could not take (missing fields, unknown symbol or login), with why."""

    server = models.ForeignKey(TradingServer, on_delete=models.CASCADE, related_name="rejections")
    kind = models.CharField(max_length=10, default="deal")
    ticket = models.BigIntegerField(null=True, blank=True)
    login = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    payload = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["server", "kind", "ticket"],
                condition=Q(ticket__isnull=False),
                name="clients_rejection_ticket_unique",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.ticket}: {self.reason}"


# --- Communications and support ----------------------------------------------------------------


class CallOutcome(models.TextChoices):
    """How a call went: one list for calls to leads and to clients."""

    ANSWERED = "answered", "Answered"
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Voicemail"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    CALL_BACK = "call_back", "Asked to call back"


class ClientActivity(models.Model):
    """The client's communication history: notes, calls, emails, outreach."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        OUTREACH = "outreach", "Retention outreach"

    CallOutcome = CallOutcome

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # An email to the client (`clients.notify`): the state change it tells (one email per
    # event, unique), the template it was written from, its HTML part, when it went out.
    event_key = models.CharField(max_length=120, blank=True, default="")
    template = models.CharField(max_length=60, blank=True, default="")
    html = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "client activities"
        indexes = [models.Index(fields=["client", "-created_at"], name="clients_activity_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["event_key"],
                condition=~Q(event_key=""),
                name="clients_activity_one_email_per_event",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on client {self.client_id}"


from .models_access import AccessRecord, PersonalDataView, SharedNetwork  # noqa: E402, F401
from .models_instruments import AccountTypeMarkup, Instrument  # noqa: E402, F401
from .models_rollups import (  # noqa: E402, F401
    ActivityDay,
    RetentionDay,
    TraderDays,
    TradingCardDay,
    TradingDay,
)
from .models_service import (  # noqa: E402, F401
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    RetentionPolicy,
    SupportTicket,
    TicketMessage,
)
from .models_terms import TermsAcceptance, TermsDocument, TermsVersion  # noqa: E402, F401
