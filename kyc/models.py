"""KYC: a client's submission (details, questionnaire, documents) and its automatic checks."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import CharField, Func, Value
from django.db.models.functions import Concat
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from clients.links import name_key


def document_path(instance, filename):
    # Random names in a private store: nothing about the client or the file name leaks.
    return f"kyc/{instance.submission_id}/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1]}"


def name_dob_key():
    """A submission's name and date of birth as one link key (`kyc.links`): the name as
    `clients.links.name_key` makes it, and the date as days since 1970 (a date's text depends on
    the session's DateStyle, which an index may not). Indexed, so that finding the clients with
    a given client's key reads the index, not every submission."""
    days = Func(
        "date_of_birth",
        template="((%(expressions)s - DATE '1970-01-01')::text)",
        output_field=CharField(),
    )
    return Concat(name_key(Concat("first_name", Value(" "), "last_name")), Value("|"), days)


class KycSubmission(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "In progress"
        SUBMITTED = "submitted", "Submitted: automatic checks"
        IN_REVIEW = "in_review", "In review"
        RESUBMISSION = "resubmission", "Resubmission requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Questionnaire(models.TextChoices):
        PASS = "pass", "Appropriate"
        WARN = "warn", "Appropriate after a risk warning"
        FAIL = "fail", "Not appropriate (cooling-off)"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="kyc_submissions"
    )
    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    step = models.CharField(max_length=20, default="details")
    # Personal details as on the identity document.
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    # Appropriateness questionnaire.
    answers = models.JSONField(default=dict, blank=True)
    questionnaire_score = models.PositiveSmallIntegerField(null=True, blank=True)
    questionnaire_outcome = models.CharField(
        max_length=5, choices=Questionnaire.choices, blank=True
    )
    risk_warning_acknowledged_at = models.DateTimeField(null=True, blank=True)
    cooling_off_until = models.DateTimeField(null=True, blank=True)
    # Decision.
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approval_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Four-eyes: the first officer's approval.",
    )
    decision_rule = models.CharField(max_length=100, blank=True)
    decision_reason = models.TextField(blank=True)
    resubmit_documents = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "submitted_at"]),
            models.Index(name_dob_key(), name="kyc_submission_name_dob_key"),
        ]
        permissions = [("review_kyc", "Can review KYC submissions")]

    def __str__(self):
        return f"KYC {self.pk} ({self.client})"

    @transition(field=state, source=[State.DRAFT, State.RESUBMISSION], target=State.SUBMITTED)
    def submit(self):
        pass

    @transition(field=state, source=State.SUBMITTED, target=State.APPROVED)
    def auto_approve(self):
        pass

    @transition(field=state, source=State.SUBMITTED, target=State.IN_REVIEW)
    def send_to_review(self):
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.REJECTED)
    def reject(self):
        pass

    @transition(field=state, source=State.IN_REVIEW, target=State.RESUBMISSION)
    def request_resubmission(self):
        pass


class KycDocument(models.Model):
    class Kind(models.TextChoices):
        PASSPORT = "passport", "Passport"
        ID_CARD = "id_card", "National ID card"
        DRIVING_LICENCE = "driving_licence", "Driving licence"
        PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"

    class Side(models.TextChoices):
        FRONT = "front", "Front"
        BACK = "back", "Back"

    submission = models.ForeignKey(
        KycSubmission, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    side = models.CharField(max_length=5, choices=Side.choices, default=Side.FRONT)
    file = models.FileField(upload_to=document_path)
    original_name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveSmallIntegerField(null=True, blank=True)
    is_current = models.BooleanField(default=True, help_text="False once replaced.")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "side", "-uploaded_at"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.side})"


class KycCheck(models.Model):
    """One automatic check's result: what it compared, and why it passed or failed."""

    submission = models.ForeignKey(KycSubmission, on_delete=models.CASCADE, related_name="checks")
    run = models.PositiveSmallIntegerField(help_text="Which pipeline run (1, 2, ...).")
    name = models.CharField(max_length=40)
    passed = models.BooleanField()
    flag = models.CharField(max_length=40, blank=True, help_text="Stable code when failed.")
    explanation = models.CharField(max_length=300)
    compared = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "run", "name"], name="kyc_check_once_per_run"
            )
        ]

    def __str__(self):
        return f"{self.name}: {'pass' if self.passed else self.flag}"


# --- The client's financial profile and source-of-funds documents -----------------------------


class Employment(models.TextChoices):
    EMPLOYED = "employed", "Employed"
    SELF_EMPLOYED = "self_employed", "Self-employed or business owner"
    RETIRED = "retired", "Retired"
    STUDENT = "student", "Student"
    UNEMPLOYED = "unemployed", "Not working"


class Industry(models.TextChoices):
    FINANCE = "finance", "Banking, finance or insurance"
    TECHNOLOGY = "technology", "Technology or telecoms"
    HEALTH = "health", "Health or education"
    PUBLIC = "public", "Public sector or government"
    TRADE = "trade", "Retail, trade or manufacturing"
    PROPERTY = "property", "Property or construction"
    LEGAL = "legal", "Legal, accounting or consulting"
    CASH_INTENSIVE = "cash_intensive", "Cash-intensive business (bars, car dealers, gaming)"
    CRYPTO = "crypto", "Crypto-assets"
    ARMS_EXTRACTION = "arms_extraction", "Arms, mining or oil and gas"
    OTHER = "other", "Other"
    NONE = "none", "Not applicable"


class Band(models.TextChoices):
    """Yearly income and net worth, in the profile's currency."""

    UNDER_25K = "under_25k", "Under 25,000"
    FROM_25K = "25k_100k", "25,000 to 100,000"
    FROM_100K = "100k_250k", "100,000 to 250,000"
    FROM_250K = "250k_1m", "250,000 to 1,000,000"
    OVER_1M = "over_1m", "Over 1,000,000"


# The most each band allows (the last band: what deposits are compared with when a client
# declares over 1,000,000).
BAND_CEILING = {
    Band.UNDER_25K: 25_000,
    Band.FROM_25K: 100_000,
    Band.FROM_100K: 250_000,
    Band.FROM_250K: 1_000_000,
    Band.OVER_1M: 5_000_000,
}


class FundsSource(models.TextChoices):
    SALARY = "salary", "Salary or pension"
    BUSINESS = "business", "Business income"
    SAVINGS = "savings", "Savings"
    INVESTMENTS = "investments", "Investments or dividends"
    INHERITANCE = "inheritance", "Inheritance or gift"
    PROPERTY_SALE = "property_sale", "Sale of property"
    CRYPTO = "crypto", "Crypto-assets"
    OTHER = "other", "Other"


class ProfileCurrency(models.TextChoices):
    USD = "USD", "US dollar"
    EUR = "EUR", "Euro"
    GBP = "GBP", "Pound sterling"
    CHF = "CHF", "Swiss franc"
    AUD = "AUD", "Australian dollar"


class FinancialProfile(models.Model):
    """One version of what a client declares about their finances. Never changed: each change
    the client (or staff on their word) makes is a new version; the highest is current."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="financial_profiles"
    )
    version = models.PositiveIntegerField()
    employment_status = models.CharField(max_length=20, choices=Employment.choices)
    occupation = models.CharField(max_length=120, blank=True)
    industry = models.CharField(max_length=20, choices=Industry.choices)
    currency = models.CharField(max_length=3, choices=ProfileCurrency.choices)
    annual_income = models.CharField(max_length=12, choices=Band.choices)
    net_worth = models.CharField(max_length=12, choices=Band.choices)
    expected_deposits_amount = models.DecimalField(
        max_digits=20, decimal_places=2, help_text="What the client expects to deposit a year."
    )
    source_of_funds = models.CharField(max_length=20, choices=FundsSource.choices)
    source_of_funds_detail = models.CharField(max_length=500, blank=True)
    source_of_wealth = models.CharField(max_length=20, choices=FundsSource.choices)
    source_of_wealth_detail = models.CharField(max_length=500, blank=True)
    declared_at = models.DateTimeField(auto_now_add=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["client", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["client", "version"], name="kyc_profile_version_once"),
            models.CheckConstraint(
                condition=models.Q(expected_deposits_amount__gte=0),
                name="kyc_profile_expected_deposits_positive",
            ),
        ]

    def __str__(self):
        return f"Financial profile v{self.version} of client {self.client_id}"


def sof_document_path(instance, filename):
    return f"kyc/sof/{instance.client_id}/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1]}"


class SourceOfFundsDocument(models.Model):
    """Evidence of where the client's money comes from (payslips, a sale contract, bank
    statements), reviewed on its own by compliance: approved or rejected with a reason."""

    class Status(models.TextChoices):
        IN_REVIEW = "in_review", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="source_of_funds_documents"
    )
    status = FSMField(default=Status.IN_REVIEW, choices=Status.choices, protected=True)
    description = models.CharField(max_length=300, help_text="What the document shows.")
    file = models.FileField(upload_to=sof_document_path)
    original_name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        indexes = [models.Index(fields=["status", "uploaded_at"])]

    def __str__(self):
        return f"Source of funds {self.pk} (client {self.client_id})"

    @transition(field=status, source=Status.IN_REVIEW, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.IN_REVIEW, target=Status.REJECTED)
    def reject(self):
        pass
