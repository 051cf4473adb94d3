"""Instruments and what an account type adds to them. Imported by `clients.models`.

An `Instrument` is a tradable symbol under its canonical name (XAUUSD, not the server's
XAUUSD.m), with its class (FX major, minor, exotic, metals, energies, indices, crypto, stocks:
what commission plans and leverage limits group by), its contract size, price digits and quote
(profit) currency, from which a point's value follows (`clients.instruments`). An
`AccountTypeMarkup` is the spread an account type adds on one instrument, in points. Both are
configured in admin; every edit is kept in their history and audited (`clients/admin.py`).
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from . import instruments as spec

CURRENCY = RegexValidator(r"^[A-Z]{3}$", "Three capital letters (ISO 4217), e.g. USD.")


class Instrument(models.Model):
    """A tradable symbol under its canonical name (XAUUSD, not the server's XAUUSD.m)."""

    class AssetClass(models.TextChoices):
        FX_MAJOR = spec.FX_MAJOR, "FX major"
        FX_MINOR = spec.FX_MINOR, "FX minor"
        FX_EXOTIC = spec.FX_EXOTIC, "FX exotic"
        METALS = spec.METALS, "Metals"
        ENERGIES = spec.ENERGIES, "Energies"
        INDICES = spec.INDICES, "Indices"
        CRYPTO = spec.CRYPTO, "Crypto"
        STOCKS = spec.STOCKS, "Stocks"

    symbol = models.CharField(max_length=32, unique=True)
    description = models.CharField(max_length=100, blank=True)
    asset_class = models.CharField(
        "class",
        max_length=12,
        choices=AssetClass.choices,
        help_text="What commission plans and leverage limits group it by.",
    )
    subclass = models.CharField(
        "leverage subclass",
        max_length=16,
        choices=spec.SUBCLASSES,
        blank=True,
        default="",
        db_default="",
        help_text="Gold (of metals) or a major index (of indices): leverage limits cap them "
        "apart (ESMA: 20:1, where other metals and indices have 10:1).",
    )
    aliases = models.JSONField(
        default=list, blank=True, help_text='Other names servers use, e.g. ["GOLD"].'
    )
    contract_size = models.DecimalField(
        max_digits=20,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.0001"))],
        help_text="Units per lot (FX 100000, XAUUSD 100); empty until set.",
    )
    digits = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(spec.MAX_DIGITS)],
        help_text="Price decimals, 0 to 8 (EURUSD 5, USDJPY 3); empty until set.",
    )
    quote_currency = models.CharField(
        max_length=3,
        blank=True,
        validators=[CURRENCY],
        help_text="The currency its profit and point value are in (EURUSD: USD).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contract_size__isnull=True) | Q(contract_size__gt=0),
                name="clients_instrument_contract_size_positive",
            ),
            models.CheckConstraint(
                condition=Q(digits__isnull=True) | Q(digits__lte=spec.MAX_DIGITS),
                name="clients_instrument_digits_range",
            ),
            models.CheckConstraint(
                condition=Q(subclass="")
                | Q(subclass=spec.GOLD, asset_class=spec.METALS)
                | Q(subclass=spec.MAJOR_INDICES, asset_class=spec.INDICES),
                name="clients_instrument_subclass_of_class",
                violation_error_message="Gold is a metal, and a major index an index.",
            ),
        ]

    def __str__(self):
        return self.symbol

    @property
    def point(self) -> Decimal | None:
        """The smallest price step (10^-digits), or None while digits are not set."""
        return None if self.digits is None else spec.point_size(self.digits)

    @property
    def point_value(self) -> Decimal | None:
        """One point on one lot, in the quote currency; None while the contract is not set."""
        if self.digits is None or self.contract_size is None:
            return None
        return spec.point_value(self.contract_size, self.digits)

    @property
    def leverage_class(self) -> str:
        """The class leverage limits cap it by: gold, a major index, or its class."""
        return spec.leverage_class(self.asset_class, self.subclass)

    @property
    def symbol_group(self) -> str:
        return spec.symbol_group(self.asset_class)


class AccountTypeMarkup(models.Model):
    """The markup an account type adds on one instrument, in points (0 or more)."""

    account_type = models.ForeignKey(
        "clients.AccountType", on_delete=models.CASCADE, related_name="markups"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="markups")
    markup_points = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Points added to the spread (5 digits: 10 points = 1 pip).",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["account_type", "instrument__symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["account_type", "instrument"], name="clients_accounttypemarkup_unique"
            ),
            models.CheckConstraint(
                condition=Q(markup_points__gte=0), name="clients_accounttypemarkup_points"
            ),
        ]

    def __str__(self):
        return f"{self.instrument} +{Decimal(self.markup_points).normalize():f} points"
