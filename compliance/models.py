"""Sanctions and PEP lists, as imported: each file a versioned snapshot of its list.

A `ListSource` is one list the broker screens against (OFAC SDN, the UN consolidated list, the
EU financial sanctions file, a vendor's PEP list...). Each import of its file(s) is a
`ListSnapshot`, never changed afterwards: its entries (`ListEntry`) with their names
(`EntryName`), dates of birth (`EntryBirthDate`), countries (`EntryCountry`) and identity
documents (`EntryDocument`). An entry's `content_hash` covers everything read for it, so a later
snapshot tells added, changed and removed entries apart by the list's own id (`list_id`).
Screening hits point at the snapshot entry they matched; the pair (subject, source, list_id)
with the entry's content hash is what a dismissed hit is remembered by.

The newest snapshot of a source is its current one. Only current snapshots carry the
candidate index (`NameToken`: each name's normalised tokens and phonetic keys, with btree
indexes) and feed `TokenWeight` (how rare each token is across the current lists, with a
trigram index for typo-tolerant look-ups); superseded snapshots keep their entries for the trail.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GistIndex
from django.db import models

from .models_cases import Case, CaseAttachment, CaseNote, CaseStatus  # noqa: F401
from .models_jobs import JobProgress, JobStatus
from .models_jurisdictions import AppliedVia, RuleApplication, RuleApplyJob  # noqa: F401


class ListFormat(models.TextChoices):
    OFAC_SDN = "ofac_sdn", "OFAC SDN (legacy CSV files)"
    UN = "un", "UN Security Council consolidated list (XML)"
    EU = "eu", "EU financial sanctions file (XML)"
    CSV = "csv", "CSV with a saved column mapping"


class ListKind(models.TextChoices):
    SANCTIONS = "sanctions", "Sanctions"
    PEP = "pep", "Politically exposed persons"
    INTERNAL = "internal", "Internal watch list"


class ListSource(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    format = models.CharField(max_length=10, choices=ListFormat.choices)
    kind = models.CharField(max_length=10, choices=ListKind.choices, default=ListKind.SANCTIONS)
    threshold = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.70"),
        help_text="A name score at or above this is a hit (0.70 by default).",
    )
    is_active = models.BooleanField(default=True, help_text="Screened against when active.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_screening", "Can import lists and screen names")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold__gt=0) & models.Q(threshold__lte=1),
                name="compliance_listsource_threshold_range",
            )
        ]

    def __str__(self):
        return self.name


class ListSnapshot(models.Model):
    source = models.ForeignKey(ListSource, on_delete=models.PROTECT, related_name="snapshots")
    file_names = models.JSONField(default=list)
    file_hash = models.CharField(max_length=64, help_text="SHA-256 over the files, in order.")
    published_on = models.DateField(null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entry_count = models.PositiveIntegerField(default=0)
    name_count = models.PositiveIntegerField(default=0)
    person_count = models.PositiveIntegerField(default=0)
    added_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    # The list ids of the entries added, changed and removed against `previous`: what a delta
    # re-screen reads.
    delta = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-imported_at", "-pk"]
        get_latest_by = "imported_at"
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(is_current=True),
                name="compliance_one_current_snapshot",
            )
        ]

    def __str__(self):
        return f"{self.source.name} #{self.pk}"


class EntryKind(models.TextChoices):
    PERSON = "person", "Person"
    ENTITY = "entity", "Entity"
    VESSEL = "vessel", "Vessel"
    AIRCRAFT = "aircraft", "Aircraft"


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"


class ListEntry(models.Model):
    snapshot = models.ForeignKey(ListSnapshot, on_delete=models.CASCADE, related_name="entries")
    list_id = models.CharField(max_length=64, help_text="The list's own id for the entry.")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    primary_name = models.CharField(max_length=500)
    programmes = models.JSONField(default=list, blank=True)
    remarks = models.TextField(blank=True)
    gender = models.CharField(max_length=6, choices=Gender.choices, blank=True)
    details = models.JSONField(default=dict, blank=True)  # addresses, listing date, titles...
    content_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "list entries"
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "list_id"], name="compliance_entry_once")
        ]

    def __str__(self):
        return f"{self.primary_name} ({self.list_id})"


class NameQuality(models.TextChoices):
    STRONG = "strong", "Strong"
    WEAK = "weak", "Weak"
    LOW = "low", "Low quality"


class EntryName(models.Model):
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(max_length=500)
    normalised = models.CharField(max_length=500)
    quality = models.CharField(max_length=6, choices=NameQuality.choices)
    is_primary = models.BooleanField(default=False)
    alias_type = models.CharField(max_length=20, blank=True)  # aka, fka, nka...

    def __str__(self):
        return self.name


class DateKind(models.TextChoices):
    EXACT = "exact", "Exact date"
    MONTH = "month", "Month and year"
    YEAR = "year", "Year only"
    RANGE = "range", "Between"
    CIRCA = "circa", "About"


class EntryBirthDate(models.Model):
    """A date of birth as the list gives it: `earliest` and `latest` bound it (equal for an
    exact date; a year's first and last day; a range's ends; circa widened by the matcher)."""

    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="birth_dates")
    kind = models.CharField(max_length=6, choices=DateKind.choices)
    earliest = models.DateField()
    latest = models.DateField()
    text = models.CharField(max_length=120, blank=True)

    def __str__(self):
        return self.text or f"{self.earliest} to {self.latest}"


class CountryRelation(models.TextChoices):
    NATIONALITY = "nationality", "Nationality"
    CITIZENSHIP = "citizenship", "Citizenship"


class EntryCountry(models.Model):
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="countries")
    relation = models.CharField(max_length=12, choices=CountryRelation.choices)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")
    text = models.CharField(max_length=120, help_text="As the list writes it.")

    class Meta:
        verbose_name_plural = "entry countries"

    def __str__(self):
        return self.text


class EntryDocument(models.Model):
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=80)
    number = models.CharField(max_length=120)
    country = models.CharField(max_length=2, blank=True)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self):
        return f"{self.kind} {self.number}"


class NameToken(models.Model):
    """The candidate index of current snapshots: one row per token of a name."""

    snapshot = models.ForeignKey(ListSnapshot, on_delete=models.CASCADE, related_name="+")
    name = models.ForeignKey(EntryName, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(ListEntry, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    token = models.CharField(max_length=100)
    phonetic = models.CharField(max_length=100)
    name_tokens = models.PositiveSmallIntegerField(help_text="How many tokens the name has.")

    class Meta:
        indexes = [
            models.Index(fields=["token"], name="compliance_token_idx"),
            models.Index(fields=["phonetic"], name="compliance_phonetic_idx"),
        ]

    def __str__(self):
        return self.token


class TokenWeight(models.Model):
    """How rare a token is across the current snapshots: `weight` in (0, 1], rarer is higher."""

    token = models.CharField(max_length=100, primary_key=True)
    names = models.PositiveIntegerField()
    weight = models.FloatField()

    class Meta:
        indexes = [
            GistIndex(fields=["token"], opclasses=["gist_trgm_ops"], name="compliance_token_trgm")
        ]

    def __str__(self):
        return f"{self.token} ({self.weight:.2f})"


class CsvMapping(models.Model):
    """How to read a vendor's or the broker's own list as CSV: which column holds what."""

    name = models.CharField(max_length=80, unique=True)
    mapping = models.JSONField(
        help_text=(
            'e.g. {"list_id": "ID", "name": "Full name", "aliases": "Aliases", '
            '"alias_separator": ";", "kind": "Type", "dob": "Date of birth", '
            '"nationality": "Country", "gender": "Gender", "programme": "Position", '
            '"remarks": "Notes"}'
        )
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


# --- Screening of clients and partners, and the alerts it raises ------------------------------


class ScreeningReason(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    SWEEP = "sweep", "Never screened (sweeper)"
    ON_DEMAND = "on_demand", "On demand"
    KYC_DOCUMENT = "kyc_document", "Name read from an identity document"
    DEPOSIT_PAYER = "deposit_payer", "Payer of a deposit"
    DETAILS_CHANGED = "details_changed", "Name, date of birth or nationality changed"
    LIST_UPDATE = "list_update", "List updated (entries added or changed)"
    NIGHTLY = "nightly", "Nightly full re-screen"


class NameOrigin(models.TextChoices):
    """Where a screened name came from: what an alert shows next to it."""

    REGISTERED = "registered", "Registered name"
    LEGAL = "legal", "Company name"
    KYC_DETAILS = "kyc_details", "Name given at KYC"
    KYC_DOCUMENT = "kyc_document", "Identity document (MRZ)"
    DEPOSIT_PAYER = "deposit_payer", "Deposit payer (as the PSP names them)"


class ScreeningRun(models.Model):
    """One screening of a client (or a partner's account holder) against the snapshots that
    were current then: what was screened, against what, and how many hits it raised."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="screening_runs"
    )
    reason = models.CharField(max_length=20, choices=ScreeningReason.choices)
    reference = models.CharField(
        max_length=120, blank=True, help_text="What prompted it (a KYC submission, a deposit)."
    )
    names = models.JSONField(default=list, help_text="The names screened.")
    snapshots = models.ManyToManyField(ListSnapshot, related_name="+", blank=True)
    hit_count = models.PositiveIntegerField(default=0)
    raised_count = models.PositiveIntegerField(default=0)
    screened_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-screened_at", "-pk"]

    def __str__(self):
        return f"Screening {self.pk} of client {self.client_id}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSAL_PROPOSED = "dismissal_proposed", "Dismissal awaiting a second officer"
    CONFIRMED = "confirmed", "Confirmed match"
    DISMISSED = "dismissed", "Dismissed as a false positive"
    CLEARED = "cleared", "Cleared by a list update"


UNDECIDED = [AlertStatus.OPEN, AlertStatus.DISMISSAL_PROPOSED]


class Alert(models.Model):
    """A screening hit: a client's name met a list entry at `score`, raised by `snapshot`. Open
    until a compliance officer confirms it as a true match (a block on the client's standing
    until lifted) or dismisses it as a false positive (four eyes at or above
    COMPLIANCE_FOUR_EYES_SCORE), or a later snapshot clears it (`cleared_by`: the entry was
    removed from the list, or changed so the client no longer matches it). A
    dismissed (client, list, list id) is not raised again while the entry's `content_hash`
    stays the same."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="alerts")
    run = models.ForeignKey(ScreeningRun, on_delete=models.PROTECT, related_name="alerts")
    snapshot = models.ForeignKey(
        ListSnapshot, on_delete=models.PROTECT, related_name="+", help_text="Raised by."
    )
    source = models.ForeignKey(ListSource, on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(ListEntry, on_delete=models.PROTECT, related_name="+")
    list_id = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    screened_name = models.CharField(max_length=300)
    name_origin = models.CharField(
        max_length=20, choices=NameOrigin.choices, default=NameOrigin.REGISTERED
    )
    matched_name = models.CharField(max_length=500)
    score = models.DecimalField(max_digits=5, decimal_places=4)
    breakdown = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    proposed_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)
    cleared_by = models.ForeignKey(
        ListSnapshot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The snapshot that removed the entry, or changed it so it no longer matches.",
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["client", "source", "list_id"], name="compliance_pair")]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "source", "list_id"],
                condition=models.Q(status__in=["open", "dismissal_proposed"]),
                name="compliance_one_undecided_alert_per_pair",
            )
        ]

    def __str__(self):
        return f"Alert {self.pk}: {self.screened_name} ~ {self.matched_name}"

    @property
    def blocking(self) -> bool:
        return self.status == AlertStatus.CONFIRMED and self.lifted_at is None


# --- Client risk rating and periodic reviews ---------------------------------------------------


class RiskLevel(models.TextChoices):
    LOW = "low", "Low risk"
    MEDIUM = "medium", "Medium risk"
    HIGH = "high", "High risk"


class CountryRisk(models.Model):
    """How risky compliance holds a country for money laundering and terrorist financing, as
    the client risk rating reads it for residence and nationality. A country not listed is
    low risk."""

    country = models.CharField(max_length=2, unique=True, help_text="ISO 3166-1 alpha-2")
    level = models.CharField(max_length=6, choices=RiskLevel.choices)
    note = models.CharField(max_length=300, blank=True, help_text="Why, e.g. FATF grey list.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country"]
        verbose_name_plural = "country risks"

    def __str__(self):
        return f"{self.country}: {self.get_level_display()}"


class RiskAssessment(models.Model):
    """One rating of a client: the score, the level it gave, and every factor with its points
    and explanation. Never changed: each recompute that changes anything adds one."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="risk_assessments"
    )
    score = models.PositiveSmallIntegerField()
    rating = models.CharField(max_length=6, choices=RiskLevel.choices)
    factors = models.JSONField(
        default=list, help_text="[{code, label, points, explanation}] in a fixed order."
    )
    cause = models.CharField(max_length=120, help_text="What made the client be rated again.")
    actor_label = models.CharField(max_length=120)
    assessed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-assessed_at", "-pk"]
        indexes = [models.Index(fields=["client", "-assessed_at"], name="compliance_risk_latest")]

    def __str__(self):
        return f"Risk {self.rating} ({self.score}) of client {self.client_id}"


class ReviewOutcome(models.TextChoices):
    SATISFACTORY = "satisfactory", "No concerns: relationship continues"
    CONCERNS = "concerns", "Concerns noted: follow-up actions"
    EXIT = "exit", "Recommend ending the relationship"


class PeriodicReview(models.Model):
    """A client's periodic review, due by their risk rating (high yearly, medium every two
    years, low every three by default). One open review per client; completing it records the
    officer, outcome and notes and opens the next one."""

    class Status(models.TextChoices):
        OPEN = "open", "Due"
        COMPLETED = "completed", "Completed"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="periodic_reviews"
    )
    rating = models.CharField(
        max_length=6, choices=RiskLevel.choices, help_text="The rating the due date follows."
    )
    due_on = models.DateField(db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=14, choices=ReviewOutcome.choices, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(status="open"),
                name="compliance_one_open_review_per_client",
            )
        ]

    def __str__(self):
        return f"Review of client {self.client_id} due {self.due_on}"


class JobKind(models.TextChoices):
    IMPORT = "import", "List import"
    DELTA = "delta", "Re-screen against a list's added and changed entries"
    FULL = "full", "Full re-screen of every client"


class ScreeningJob(JobProgress, models.Model):
    """Background work on the lists (the compliance queue), with its progress (`done` of
    `total`): an officer's upload imported (`import`: the files kept in storage, read, then
    stored as `snapshot`; a file that cannot be read fails the job naming its line or element,
    and changes nothing), or a re-screen of the whole book, after a list snapshot against its
    added and changed entries only (`delta`: `total` clients), or nightly against every current
    entry (`full`), with the counts of what it raised and cleared."""

    kind = models.CharField(max_length=8, choices=JobKind.choices)
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    snapshot = models.ForeignKey(
        ListSnapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    actor_label = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # An import's request: the list's format, its files in storage ([{"name", "path"}]), and
    # for a CSV list its code, name and column mapping.
    list_format = models.CharField(max_length=10, choices=ListFormat.choices, blank=True)
    files = models.JSONField(default=list, blank=True)
    list_code = models.CharField(max_length=40, blank=True)
    list_name = models.CharField(max_length=120, blank=True)
    mapping = models.ForeignKey(
        CsvMapping, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    hit_clients = models.PositiveIntegerField(default=0)
    raised_count = models.PositiveIntegerField(default=0)
    cleared_count = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the worker running it last said it still was (a delta, every part of "
        "the book it screens); a running delta silent for long is taken over.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class DossierExport(JobProgress, models.Model):
    """One client's dossier, asked for by a compliance officer (or run from the command line)
    and built in the background on the compliance queue (`compliance.dossier`): its progress
    (`done` of `total` steps), then the ZIP in private storage with its SHA-256 and size. Only
    compliance officers download it; the request, the build and each download are audited."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    step = models.CharField(max_length=120, blank=True, help_text="What it is doing now.")
    file = models.FileField(upload_to="dossiers/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows per table, files, events.")
    message = models.CharField(max_length=500, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self):
        return f"dossier #{self.pk} of client {self.client_id}"


# --- The book's side of the candidate index --------------------------------------------------


class BookClient(models.Model):
    """A client (or a partner's account holder) whose screened names are in the book's
    candidate index (`BookName`, `BookToken`), with a digest of what they were read from
    (`source`: the registered and company names, and the newest KYC details), so a re-screen
    of the book finds in one statement the clients whose names changed since."""

    client = models.OneToOneField(
        "clients.Client", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.CharField(max_length=32)
    indexed_at = models.DateTimeField()

    def __str__(self):
        return f"Client {self.client_id} indexed {self.indexed_at:%Y-%m-%d %H:%M}"


class BookName(models.Model):
    """A name a re-screen of the book reads of a client (registered, given at KYC, company),
    with the date of birth and nationality screened with it."""

    client = models.ForeignKey(BookClient, on_delete=models.CASCADE, related_name="names")
    origin = models.CharField(max_length=20, choices=NameOrigin.choices)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=10)
    dob = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=2, blank=True)
    need = models.PositiveSmallIntegerField(
        help_text="How many of its tokens a listed name must meet to be a candidate."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "origin"], name="compliance_bookname_origin")
        ]

    def __str__(self):
        return self.name


class BookToken(models.Model):
    """One token of a book name, with its phonetic key: joined to `NameToken` on either."""

    client = models.ForeignKey(BookClient, on_delete=models.CASCADE, related_name="+")
    origin = models.CharField(max_length=20, choices=NameOrigin.choices)
    position = models.PositiveSmallIntegerField()
    token = models.CharField(max_length=100)
    phonetic = models.CharField(max_length=100)

    class Meta:
        indexes = [
            models.Index(fields=["token"], name="compliance_booktoken_idx"),
            models.Index(fields=["phonetic"], name="compliance_bookphonetic_idx"),
        ]

    def __str__(self):
        return self.token


class BookBatch(models.Model):
    """One batch of a full re-screen of the book (a `full` ScreeningJob): the clients whose
    ids lie in `low`..`high`, claimed by one compliance worker at a time (`SELECT … FOR UPDATE
    SKIP LOCKED`), so the job's batches run on every worker process at once. A claim left
    running longer than a batch may take (a worker that died) is claimed again; a batch run
    twice raises nothing twice (alerts are remembered per pair) and counts once."""

    job = models.ForeignKey(ScreeningJob, on_delete=models.CASCADE, related_name="batches")
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED, db_default="queued"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    hit_clients = models.PositiveIntegerField(default=0, db_default=0)
    raised_count = models.PositiveIntegerField(default=0, db_default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "low"]
        constraints = [
            models.UniqueConstraint(fields=["job", "low"], name="compliance_bookbatch_job_low"),
        ]

    def __str__(self):
        return f"{self.job} clients {self.low}-{self.high}"
