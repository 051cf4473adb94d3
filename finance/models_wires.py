"""Bank wires: the brokerage's bank statements, each booked entry once, and the wires finance
sends in pain.001 batches. Imported by `finance.models`.

- `BankStatement`: one upload of a camt.053 or MT940 file by finance (kept privately).
- `BankEntry`: one booked entry of the brokerage's bank account, stored once whatever the
  uploads: unique by (statement account, bank reference, booking date, amount), so the same
  statement uploaded twice, or two overlapping statements, add nothing. A credit is matched to
  a client (credited as a "bank wire" deposit) or waits in finance's queue to be assigned or
  dismissed; a debit settles the wire withdrawal it pays, or is not a client wire.
- `WireInstruction`: the bank details of a withdrawal by bank wire (the client's own name,
  their IBAN and BIC) and its end-to-end id, the batch it was sent in, the entry that settled
  it, and a return.
- `WireBatch`: one pain.001 credit-transfer file, generated once; a withdrawal is in at most
  one batch.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clients.links import name_key

from .models import MONEY, Deposit, Withdrawal, statement_path

BANK_WIRE = "bank_wire"  # the deposits' and withdrawals' `psp` for a bank wire


class BankStatement(models.Model):
    """An uploaded bank statement file; what it added is on its entries."""

    class Format(models.TextChoices):
        CAMT053 = "camt053", "ISO 20022 camt.053 (XML)"
        MT940 = "mt940", "SWIFT MT940"

    format = models.CharField(max_length=10, choices=Format.choices)
    file = models.FileField(upload_to=statement_path)
    original_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    accounts = models.JSONField(default=list, blank=True, help_text="The accounts it covers.")
    counts = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self):
        return f"Bank statement {self.pk} ({self.original_name})"


class BankEntry(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Being matched"
        QUEUED = "queued", "Waiting for finance"
        CREDITED = "credited", "Credited to the client"
        ASSIGNED = "assigned", "Assigned by finance and credited"
        DISMISSED = "dismissed", "Dismissed"
        SETTLED = "settled", "Paid a wire withdrawal"
        NOT_CLIENT = "not_client", "Not a client wire"

    class Why(models.TextChoices):
        """Why a credit waits in the queue."""

        NO_MATCH = "no_match", "No client matched"
        AMBIGUOUS = "ambiguous", "Several clients matched"
        REFUSED = "refused", "The client may not deposit"
        RETURNED_WIRE = "returned_wire", "Looks like one of our wires coming back"

    class Rule(models.TextChoices):
        """How a credit found its client, or a debit its withdrawal."""

        REFERENCE = "reference", "Payment reference"
        NAME_IBAN = "name_iban", "Name and IBAN"
        MANUAL = "manual", "Assigned by hand"
        END_TO_END = "end_to_end", "End-to-end id"
        AMOUNT_IBAN = "amount_iban", "Amount and IBAN"

    WAITING = (Status.QUEUED,)

    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="entries")
    line_no = models.PositiveIntegerField(help_text="Its entry or :61: line in that file.")
    account = models.CharField(max_length=64, help_text="The brokerage's account (IBAN).")
    bank_reference = models.CharField(max_length=100)
    booked_on = models.DateField()
    amount = models.DecimalField(**MONEY, help_text="+ money in, - money out.")
    currency = models.CharField(max_length=3)
    counterparty_name = models.CharField(max_length=140, blank=True)
    counterparty_iban = models.CharField(max_length=34, blank=True)
    remittance = models.CharField(max_length=500, blank=True)
    end_to_end_id = models.CharField(max_length=35, blank=True)
    description = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    why = models.CharField(max_length=15, choices=Why.choices, blank=True)
    why_detail = models.CharField(max_length=255, blank=True)
    rule = models.CharField(max_length=12, choices=Rule.choices, blank=True)
    candidates = models.JSONField(
        default=list, blank=True, help_text="The clients it could be (several matched)."
    )
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deposit = models.OneToOneField(
        Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="bank_entry"
    )
    withdrawal = models.ForeignKey(
        Withdrawal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-booked_on", "-id"]
        verbose_name_plural = "bank entries"
        indexes = [
            models.Index(fields=["status", "booked_on"]),
            models.Index(fields=["counterparty_iban"]),
            # the ordering party's name as a link key (finance.links, "same payer name")
            models.Index(name_key(F("counterparty_name")), name="finance_bank_entry_payer_key"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "bank_reference", "booked_on", "amount"],
                name="finance_bank_entry_once",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="finance_bank_entry_nonzero"),
        ]

    def __str__(self):
        return f"{self.booked_on} {self.amount} {self.currency} {self.bank_reference}"

    @property
    def is_credit(self) -> bool:
        return self.amount > 0


class WireBatch(models.Model):
    """One pain.001 credit-transfer file for the bank, generated once."""

    message_id = models.CharField(max_length=35, unique=True)
    document = models.TextField(help_text="The pain.001 XML as generated.")
    count = models.PositiveIntegerField()
    totals = models.JSONField(default=dict, help_text="Amount per currency.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "wire batches"

    def __str__(self):
        return f"Wire batch {self.message_id}"


class WireInstruction(models.Model):
    """Where a withdrawal by bank wire goes, and what became of the wire."""

    withdrawal = models.OneToOneField(Withdrawal, on_delete=models.PROTECT, related_name="wire")
    beneficiary_name = models.CharField(max_length=140)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11, blank=True)
    end_to_end_id = models.CharField(max_length=35, unique=True)
    batch = models.ForeignKey(
        WireBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="instructions"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.OneToOneField(
        BankEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["iban"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(batch__isnull=True, sent_at__isnull=True)
                | Q(batch__isnull=False, sent_at__isnull=False),
                name="finance_wire_sent_in_a_batch",
            )
        ]

    def __str__(self):
        return f"Wire {self.end_to_end_id} to {self.iban}"
