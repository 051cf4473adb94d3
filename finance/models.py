"""Finance: a double-entry ledger, PSP deposits, withdrawals, refunds, chargebacks and
reconciliation.

The ledger's invariants are enforced by the database (migration 0002): postings are immutable,
every transaction sums to zero per currency (a deferred constraint trigger), account balances
change only through postings, and a client wallet's available balance (balance less holds)
never goes below zero except through a chargeback. Amounts are credit-positive: a client
wallet's balance is what the brokerage owes the client; a PSP clearing account's balance is
negative by what the PSP holds for the brokerage.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 20, "decimal_places": 2}
UNCHECKED = {"db_index": False, "db_constraint": False}  # a key not checked row by row


def new_reference(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16].upper()}"


class LedgerAccount(models.Model):
    class Kind(models.TextChoices):
        CLIENT_WALLET = "client_wallet", "Client wallet"
        PSP_CLEARING = "psp_clearing", "PSP clearing"
        PLATFORM_OMNIBUS = "platform_omnibus", "Trading platform omnibus"
        IB_COMMISSIONS_PAYABLE = "ib_commissions_payable", "IB commissions payable"
        FEES = "fees", "Fees"
        REVENUE = "revenue", "Revenue"
        CHARGEBACK_LOSSES = "chargeback_losses", "Chargeback losses"
        SUSPENSE = "suspense", "Suspense"
        FX_CONVERSION = "fx_conversion", "FX conversion"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    psp = models.CharField(max_length=20, blank=True)
    balance_amount = models.DecimalField(**MONEY, default=0, editable=False)
    held_amount = models.DecimalField(**MONEY, default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "currency", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "currency", "client", "psp"],
                nulls_distinct=False,
                name="finance_account_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind="client_wallet", client__isnull=False)
                | (~Q(kind="client_wallet") & Q(client__isnull=True)),
                name="finance_account_wallet_has_client",
            ),
            models.CheckConstraint(
                condition=(Q(kind="psp_clearing") & ~Q(psp=""))
                | (~Q(kind="psp_clearing") & Q(psp="")),
                name="finance_account_clearing_has_psp",
            ),
            models.CheckConstraint(
                condition=Q(held_amount__gte=0), name="finance_account_held_ge_0"
            ),
        ]
        permissions = [
            ("view_finance", "Can see the ledger, deposits, withdrawals and reports"),
            ("manage_withdrawals", "Can approve or reject withdrawals"),
            ("manage_refunds", "Can refund deposits"),
            ("manage_chargebacks", "Can record and resolve chargebacks"),
            ("reconcile", "Can run reconciliations and close periods"),
            ("manage_wires", "Can import bank statements, work the wire queue, send wires"),
        ]

    def __str__(self):
        who = f" {self.client_id}" if self.client_id else f" {self.psp}" if self.psp else ""
        return f"{self.get_kind_display()}{who} {self.currency}"

    @property
    def available_amount(self):
        return self.balance_amount - self.held_amount


class LedgerTransaction(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        REFUND = "refund", "Refund"
        CHARGEBACK = "chargeback", "Chargeback"
        CHARGEBACK_REVERSAL = "chargeback_reversal", "Chargeback reversal (dispute won)"
        TRANSFER = "transfer", "Transfer"
        FEE = "fee", "Fee"
        COMMISSION = "commission", "IB commission"
        ADJUSTMENT = "adjustment", "Adjustment"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=150, unique=True)
    description = models.CharField(max_length=255, blank=True)
    # Few indexes: every one is paid on each posting (the hot path). The composite index
    # serves the client's FK too.
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    psp = models.CharField(max_length=20, blank=True)
    external_reference = models.CharField(max_length=100, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=254)
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["client", "posted_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class Posting(models.Model):
    """One leg of a ledger transaction. Immutable (the database refuses UPDATE and DELETE)."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="postings"
    )
    account = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="postings", db_index=False
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    client = models.ForeignKey(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    psp = models.CharField(max_length=20, blank=True)
    external_reference = models.CharField(max_length=100, blank=True)
    actor_label = models.CharField(max_length=254)
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        # (account, posted_at) serves statements, reconciliation and the account's FK.
        indexes = [
            models.Index(fields=["account", "posted_at"]),
            models.Index(fields=["external_reference"]),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="finance_posting_nonzero")
        ]

    def __str__(self):
        return f"{self.amount} {self.currency} on {self.account_id}"


class Hold(models.Model):
    """Funds set aside on a wallet (a pending withdrawal or refund): available < balance."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"

    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="holds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_hold_positive")
        ]

    def __str__(self):
        return f"hold {self.reference} {self.amount} {self.currency} ({self.status})"


class FxRate(models.Model):
    """USD value of one unit of a currency, for USD-denominated limits (KYC, thresholds)."""

    currency = models.CharField(max_length=3, unique=True)
    usd_rate = models.DecimalField(max_digits=18, decimal_places=8)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    def __str__(self):
        return f"1 {self.currency} = {self.usd_rate} USD"


class PaymentMethod(models.Model):
    """A way to deposit offered in the portal: a PSP, a currency, limits and countries."""

    psp = models.CharField(max_length=20)
    name = models.CharField(max_length=80)
    currency = models.CharField(max_length=3)
    countries = models.JSONField(
        default=list, blank=True, help_text="ISO 3166-1 alpha-2 codes offered to; [] = everywhere."
    )
    excluded_countries = models.JSONField(default=list, blank=True)
    min_amount = models.DecimalField(**MONEY)
    max_amount = models.DecimalField(**MONEY)
    min_kyc_level = models.PositiveSmallIntegerField(
        default=0, help_text="0: also before verification (within the unverified limit)."
    )
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    history = HistoricalRecords()

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_amount__gt=0) & Q(max_amount__gte=models.F("min_amount")),
                name="finance_method_limits",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.currency})"


class Deposit(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", "Created"
        PENDING = "pending", "Pending at the PSP"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    reference = models.CharField(max_length=40, unique=True, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="deposits")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="+")
    psp = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = FSMField(default=Status.CREATED, choices=Status.choices, protected=True)
    provider_reference = models.CharField(max_length=100, blank=True, db_index=True)
    redirect_url = models.URLField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    is_ftd = models.BooleanField(default=False, help_text="The client's first-time deposit.")
    refunded_amount = models.DecimalField(**MONEY, default=0)
    charged_back_amount = models.DecimalField(**MONEY, default=0)
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    instrument = models.ForeignKey(
        "finance.PaymentInstrument",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deposits",
    )  # who paid, as the PSP reported it (models_instruments)
    # What the PSP's merchant account received when it is not what we credit (Skrill's
    # mb_amount / mb_currency), kept for reconciliation.
    wallet_amount = models.DecimalField(**MONEY, null=True, blank=True)
    wallet_currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["psp", "status", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client"], condition=Q(is_ftd=True), name="finance_one_ftd_per_client"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_deposit_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(charged_back_amount__gte=0)
                & Q(amount__gte=models.F("refunded_amount") + models.F("charged_back_amount")),
                name="finance_deposit_never_over_returned",
            ),
        ]

    def __str__(self):
        return f"Deposit {self.reference}"

    @property
    def remaining_amount(self):
        """What can still be refunded or charged back."""
        return self.amount - self.refunded_amount - self.charged_back_amount

    @transition(field=status, source=Status.CREATED, target=Status.PENDING)
    def open(self):
        pass

    @transition(
        field=status,
        source=[Status.CREATED, Status.PENDING, Status.FAILED, Status.EXPIRED],
        target=Status.COMPLETED,
    )
    def complete(self):
        """A PSP can report success after a failure (the card retried) or after expiry."""

    @transition(field=status, source=[Status.CREATED, Status.PENDING], target=Status.FAILED)
    def fail(self):
        pass

    @transition(field=status, source=[Status.CREATED, Status.PENDING], target=Status.EXPIRED)
    def expire(self):
        pass


class Withdrawal(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested: funds held, checks running"
        IN_REVIEW = "in_review", "In finance review"
        APPROVED = "approved", "Approved"
        PROCESSING = "processing", "Paying out"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payout failed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned by the bank"

    OPEN = (Status.REQUESTED, Status.IN_REVIEW, Status.APPROVED, Status.PROCESSING)

    reference = models.CharField(max_length=40, unique=True, editable=False)
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="withdrawals"
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    psp = models.CharField(max_length=20)
    funding_deposit = models.ForeignKey(
        Deposit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
        help_text="Closed loop: the payment the money goes back to (none for a bank wire).",
    )
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="withdrawal")
    status = FSMField(default=Status.REQUESTED, choices=Status.choices, protected=True)
    check_reasons = models.JSONField(
        default=list, blank=True, help_text="Why the automatic checks sent it to review."
    )
    decision_rule = models.CharField(max_length=100, blank=True)
    decision_reason = models.TextField(blank=True)
    first_approval_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    payout_started_at = models.DateTimeField(null=True, blank=True)
    payout_attempts = models.PositiveSmallIntegerField(default=0)
    provider_reference = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_withdrawal_positive")
        ]

    def __str__(self):
        return f"Withdrawal {self.reference}"

    @transition(field=status, source=Status.REQUESTED, target=Status.APPROVED)
    def auto_approve(self):
        pass

    @transition(field=status, source=Status.REQUESTED, target=Status.IN_REVIEW)
    def send_to_review(self):
        pass

    @transition(field=status, source=Status.IN_REVIEW, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.IN_REVIEW, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(
        field=status,
        source=[Status.REQUESTED, Status.IN_REVIEW, Status.APPROVED],
        target=Status.CANCELLED,
    )
    def cancel(self):
        pass

    @transition(field=status, source=Status.APPROVED, target=Status.PROCESSING)
    def start_payout(self):
        pass

    @transition(field=status, source=Status.PROCESSING, target=Status.PAID)
    def mark_paid(self):
        pass

    @transition(field=status, source=Status.PROCESSING, target=Status.FAILED)
    def mark_failed(self):
        pass

    @transition(field=status, source=Status.PAID, target=Status.RETURNED)
    def mark_returned(self):
        """A bank wire paid out and sent back by the beneficiary's bank."""


class Transfer(models.Model):
    """Money between the client's wallet and one of their trading accounts, exactly once.

    The platform has no idempotency key: the transfer's `comment` (unique, <= 32 characters)
    travels with the balance operation, and after a timeout the ticket is looked up by it
    before anything is sent again."""

    class Direction(models.TextChoices):
        TO_TRADING = "to_trading", "Wallet to trading account"
        FROM_TRADING = "from_trading", "Trading account to wallet"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="transfers")
    trading_account = models.ForeignKey(
        "clients.TradingAccount", on_delete=models.PROTECT, related_name="transfers"
    )
    direction = models.CharField(max_length=15, choices=Direction.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True)
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="transfer"
    )
    comment = models.CharField(max_length=32, unique=True, editable=False)
    platform_ticket = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current attempt claimed the transfer."
    )
    failure_reason = models.CharField(max_length=255, blank=True)
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "requested_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_transfer_positive")
        ]

    def __str__(self):
        return f"Transfer {self.comment}"

    @transition(field=status, source=Status.PENDING, target=Status.COMPLETED)
    def complete(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.FAILED)
    def fail(self):
        pass


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending at the PSP"
        SUCCEEDED = "succeeded", "Refunded"
        FAILED = "failed", "Failed"

    reference = models.CharField(max_length=40, unique=True, editable=False)
    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255)
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="refund")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider_reference = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When a run last claimed the call to the PSP."
    )
    failure_reason = models.CharField(max_length=255, blank=True)
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_refund_positive")
        ]

    def __str__(self):
        return f"Refund {self.reference}"

    @transition(field=status, source=Status.PENDING, target=Status.SUCCEEDED)
    def succeed(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.FAILED)
    def fail(self):
        pass


def evidence_path(instance, filename):
    return f"chargebacks/{instance.chargeback_id}/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1]}"


class Chargeback(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open (disputed)"
        WON = "won", "Won: funds returned"
        LOST = "lost", "Lost"

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="chargebacks")
    provider_reference = models.CharField(max_length=100, help_text="The PSP's dispute id.")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255, blank=True)
    status = FSMField(default=Status.OPEN, choices=Status.choices, protected=True)
    counted_amount = models.DecimalField(
        **MONEY,
        default=0,
        help_text="The part of the deposit it took back (at most what remained of it).",
    )
    wallet_debited_amount = models.DecimalField(**MONEY, default=0)
    loss_amount = models.DecimalField(
        **MONEY, default=0, help_text="The shortfall booked to chargeback losses."
    )
    recovered_amount = models.DecimalField(
        **MONEY,
        default=0,
        help_text="Of the loss, what came back from the client's wallet later (a payout or "
        "refund that failed released funds).",
    )
    opened_by_label = models.CharField(max_length=254)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome_reason = models.CharField(max_length=255, blank=True)
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deposit", "provider_reference"], name="finance_chargeback_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_chargeback_positive"),
        ]

    def __str__(self):
        return f"Chargeback {self.provider_reference}"

    @transition(field=status, source=Status.OPEN, target=Status.WON)
    def win(self):
        pass

    @transition(field=status, source=Status.OPEN, target=Status.LOST)
    def lose(self):
        pass


class ChargebackEvidence(models.Model):
    chargeback = models.ForeignKey(Chargeback, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=evidence_path)
    original_name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.original_name


class PspEvent(models.Model):
    """A verified webhook, stored once per provider event id (deliveries repeat)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored (nothing to do)"

    psp = models.CharField(max_length=20)
    event_id = models.CharField(max_length=150)
    kind = models.CharField(max_length=30)
    reference = models.CharField(max_length=100, blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    outcome_detail = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["psp", "event_id"], name="finance_psp_event_once")
        ]

    def __str__(self):
        return f"{self.psp} {self.event_id}"


class WebhookRejection(models.Model):
    """A webhook we refused (bad signature, stale, unknown transaction…): logged, nothing posted."""

    psp = models.CharField(max_length=20)
    code = models.CharField(max_length=40)
    detail = models.CharField(max_length=500)
    event_id = models.CharField(max_length=150, blank=True)
    ip_address = models.CharField(max_length=45, blank=True)
    body_excerpt = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.psp} {self.code}"


class SavedMapping(models.Model):
    """A generic-CSV column mapping kept for the next file of the same kind."""

    name = models.CharField(max_length=80, unique=True)
    psp = models.CharField(max_length=20)
    mapping = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


def statement_path(instance, filename):
    return f"statements/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1][:8]}"


from .models_instruments import PaymentInstrument  # noqa: E402, F401
from .models_reconciliation import (  # noqa: E402, F401
    PeriodClose,
    ReconciliationItem,
    ReconciliationRun,
    StatementLine,
)
from .models_rollups import MoneyCardDay, MoneyDay, PspDay  # noqa: E402, F401
from .models_thresholds import ThresholdChange, ThresholdValue  # noqa: E402, F401
from .models_wires import BankEntry, BankStatement, WireBatch, WireInstruction  # noqa: E402, F401
