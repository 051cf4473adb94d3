"""Introducing brokers (IBs): partners, their hierarchy and referral codes."""

import secrets
import string

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from clients.payment_reference import new_partner_reference

CODE_ALPHABET = string.ascii_uppercase + string.digits


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


class Partner(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        REJECTED = "rejected", "Rejected"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner"
    )
    company_name = models.CharField(max_length=200, blank=True)
    referral_code = models.CharField(
        max_length=32,
        unique=True,
        default=new_referral_code,
        validators=[RegexValidator(r"^[A-Z0-9_-]{4,32}$", "4-32 of A-Z, 0-9, _ and -.")],
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_partners",
        help_text="The master IB of a sub-IB.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    payout_iban = models.CharField(
        max_length=34, blank=True, help_text="Where commissions are wired (automatic payouts)."
    )
    payout_bic = models.CharField(max_length=11, blank=True)
    wallet_currency = models.CharField(
        max_length=3,
        blank=True,
        default="",
        db_default="",
        help_text="The currency its commissions are credited in (empty: the programme's). Set "
        "at sign-up or by an IB manager (ib.wallets).",
    )
    payment_reference = models.CharField(
        max_length=25,
        unique=True,
        default=new_partner_reference,
        editable=False,
        help_text="What the partner writes on a bank wire (ISO 11649 RF creditor reference).",
    )
    # The partner's account holder (clients.Client of kind partner): its commissions wallet,
    # withdrawals and KYC, under the same rules as a client's.
    holder = models.OneToOneField(
        "clients.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partner_of",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            (
                "manage_commissions",
                "Can change commission plans, the partner tree and commission lines",
            )
        ]

    def __str__(self):
        return self.company_name or self.user.email


class Referral(models.Model):
    """A client attributed to the IB whose referral link they followed before signing up.

    Made once their email address is proven (the last link followed before sign-up wins), or
    from the partner an IB manager credited their lead to; never re-attributed silently (only
    an IB manager moves it, audited).
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referrals")
    client = models.OneToOneField(
        "clients.Client", on_delete=models.PROTECT, related_name="referral"
    )
    code = models.CharField(max_length=32, help_text="The referral code as followed.")
    campaign_link = models.ForeignKey(
        "ib.CampaignLink",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="referrals",
        help_text="The partner's campaign link the client came through, if any.",
    )
    attributed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-attributed_at"]

    def __str__(self):
        return f"{self.client} via {self.code}"


class Attribution(models.Model):
    """The IB a lead is credited to: one per lead, with how and by whom the credit was made.

    The first credit stands (a later code, API post or sign-up never replaces it), except that
    an IB manager may set or move it by hand; what an IB manager set is never replaced by
    anything automatic. Written only by `ib.services`.
    """

    class Source(models.TextChoices):
        LINK = "link", "Referral link (sign-up)"
        API = "api", "Referral code sent with the lead (API)"
        IMPORT = "import", "Referral code in a lead import"
        MANUAL = "manual", "Set by an IB manager"

    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, related_name="attribution")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="attributions")
    source = models.CharField(max_length=10, choices=Source.choices)
    code = models.CharField(max_length=32, blank=True, help_text="The referral code as given.")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person who made it (empty for a system rule or an integration).",
    )
    made_by_label = models.CharField(
        max_length=254, help_text="Who made it: a person's email, an integration or a rule."
    )
    made_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-made_at"]

    def __str__(self):
        return f"{self.lead_id} → {self.partner} ({self.get_source_display()})"


class PendingReferral(models.Model):
    """The referral code a visitor signed up with, held until their email address is proven;
    then it credits them (see `ib.services.signup_attribute`) and is removed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_referral"
    )
    code = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} via {self.code} (email not yet verified)"


from .models_commissions import (  # noqa: E402, F401
    CommissionLine,
    ParentLink,
    PartnerPlan,
    Plan,
    PlanRule,
    PlanVersion,
    Programme,
    ReferralLink,
    UnpricedDeal,
)
from .models_disputes import CommissionDispute  # noqa: E402, F401
from .models_fraud import FraudThresholds  # noqa: E402, F401
from .models_links import CampaignLink, LinkClick, LinkDay  # noqa: E402, F401
from .models_onboarding import (  # noqa: E402, F401
    AgreementAcceptance,
    PartnerAgreement,
    PartnerApplication,
    PartnerInvitation,
)
from .models_periods import CommissionPeriod, PartnerStatement  # noqa: E402, F401
from .models_rebates import Rebate  # noqa: E402, F401
from .models_rollups import (  # noqa: E402, F401
    QualityCardDay,
    QualityDay,
    QualityDeskCardDay,
    QualityIbCardDay,
)
from .models_tokens import PartnerToken  # noqa: E402, F401
