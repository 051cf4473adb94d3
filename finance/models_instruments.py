"""Who paid: the payment instrument behind a deposit, in one shape for every PSP.

Each PSP tells us something about the payer (a card's BIN, last four digits and fingerprint, a
wallet's email, a crypto coin and address, a payer's name). The adapters read it into a
`psp.InstrumentInfo`; `finance.services.instruments` keeps one `PaymentInstrument` per client,
kind and stable key (the card fingerprint, the wallet email, coin:address...), seen first and
last, and links the deposit to it. Closed-loop payouts, third-party funding checks and linked
accounts (the same instrument on two clients) read it. Imported by `finance.models`.
"""

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat

from clients.links import name_key


class PaymentInstrument(models.Model):
    class Kind(models.TextChoices):
        CARD = "card", "Card"
        WALLET = "wallet", "E-wallet"
        CRYPTO = "crypto", "Crypto address"
        BANK = "bank", "Bank account"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="payment_instruments"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    provider = models.CharField(max_length=20, help_text="The PSP that reported it.")
    key = models.CharField(
        max_length=200,
        help_text="Stable identity: card fingerprint (or BIN+last4), wallet email, coin:address.",
    )
    label = models.CharField(max_length=120, help_text='What staff see, e.g. "Visa •••• 4242".')
    brand = models.CharField(max_length=30, blank=True)
    bin = models.CharField(max_length=8, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=200, blank=True, help_text="Crypto address.")
    holder_name = models.CharField(max_length=140, blank=True)
    country = models.CharField(max_length=2, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind", "key"], name="finance_instrument_once_per_client"
            )
        ]
        indexes = [
            models.Index(fields=["kind", "key"], name="finance_instrument_key"),
            # The links between clients look instruments up by "kind:key" (finance.links):
            # without it each look-up reads every instrument of the book.
            models.Index(Concat("kind", Value(":"), "key"), name="finance_instrument_link_key"),
            # and by the card holder's name as a link key (finance.links, "same payer name")
            models.Index(name_key(F("holder_name")), name="finance_instrument_holder_key"),
        ]

    def __str__(self):
        return self.label
