"""Leads: one record per person, scored and routed to a desk, an agent or a nurture sequence."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from brokerage.models import CardDay
from clients.models import CallOutcome

MONEY = {"max_digits": 14, "decimal_places": 2}


class Experience(models.TextChoices):
    NONE = "none", "None"
    SOME = "some", "Some"
    EXPERIENCED = "experienced", "Experienced"


class Channel(models.TextChoices):
    API = "api", "API (landing page, affiliate)"
    PORTAL = "portal", "Portal registration"
    IMPORT = "import", "CSV import"


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        QUALIFIED = "qualified", "Qualified"
        CONVERTED = "converted", "Converted"
        LOST = "lost", "Lost"

    OPEN = (Status.NEW, Status.CONTACTED, Status.QUALIFIED)

    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(max_length=254, blank=True, help_text="Lower-cased.")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    phone_valid = models.BooleanField(default=False)
    phone_invalid_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="The number as given and why it is not valid (the lead is kept without it).",
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1")
    experience = models.CharField(max_length=12, choices=Experience.choices, blank=True)
    net_worth_usd = models.DecimalField(null=True, blank=True, **MONEY)
    annual_income_usd = models.DecimalField(null=True, blank=True, **MONEY)
    source = models.CharField(max_length=60, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    referral_code = models.CharField(max_length=32, blank=True)
    client = models.OneToOneField(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="lead"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    api_key = models.ForeignKey(
        "brokerage.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The integration that first sent the lead (it may read the lead back).",
    )
    email_opt_out = models.BooleanField(default=False)

    status = FSMField(default=Status.NEW, choices=Status.choices, protected=True)
    lost_reason = models.CharField(max_length=200, blank=True)
    score = models.PositiveSmallIntegerField(default=0)
    score_breakdown = models.JSONField(default=list, blank=True)

    desk = models.ForeignKey(
        "brokerage.Desk", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_leads",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    routing = models.JSONField(default=dict, blank=True, help_text="The routing decision.")
    first_contact_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The first call, email or status change logged by a person: meets the SLA.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="leads_lead_unique_email"
            ),
        ]
        indexes = [
            models.Index(fields=["assigned_to", "status"]),
            models.Index(fields=["desk", "status"]),
            models.Index(fields=["phone"]),
            models.Index(
                fields=["created_at"],
                condition=Q(routed_at__isnull=True),
                name="leads_lead_unrouted",
            ),
        ]
        permissions = [
            ("work_leads", "Can work their own leads (inbox, notes, calls, status)"),
            ("manage_desk_leads", "Can see and reassign their desks' leads"),
            ("view_all_leads", "Can see every lead"),
            ("import_leads", "Can import leads from CSV"),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.phone or f"Lead {self.pk}"

    @property
    def is_open(self):
        return self.status in self.OPEN

    # Transitions: the only way the status changes (through leads.services).
    @transition(field=status, source=Status.NEW, target=Status.CONTACTED)
    def mark_contacted(self):
        pass

    @transition(field=status, source=[Status.NEW, Status.CONTACTED], target=Status.QUALIFIED)
    def mark_qualified(self):
        pass

    @transition(field=status, source=list(OPEN), target=Status.CONVERTED)
    def mark_converted(self):
        pass

    @transition(field=status, source=list(OPEN), target=Status.LOST)
    def mark_lost(self, reason: str):
        self.lost_reason = reason

    @transition(field=status, source=Status.LOST, target=Status.NEW)
    def reopen(self):
        self.lost_reason = ""


class LeadTouch(models.Model):
    """Each time the person reached us: the first capture and every duplicate after it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    source = models.CharField(max_length=60, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    is_duplicate = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.lead} via {self.channel}"


class LeadActivity(models.Model):
    """The lead's timeline and communication history: notes, calls, emails, status changes."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        STATUS = "status", "Status change"
        ASSIGNMENT = "assignment", "Assignment"
        TOUCH = "touch", "Touch"
        NURTURE = "nurture", "Nurture"
        CALLBACK = "callback", "Callback"

    CallOutcome = CallOutcome

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "lead activities"

    def __str__(self):
        return f"{self.get_kind_display()} on {self.lead_id}"


class Callback(models.Model):
    """A next action: call the lead back at a time. The agent is reminded once it is due."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="callbacks")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_callbacks"
    )
    due_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reminded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the agent was reminded (once)."
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(
                fields=["agent", "due_at"],
                condition=Q(done_at__isnull=True),
                name="leads_callback_open",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(done_at__isnull=True, reminded_at__isnull=True),
                name="leads_callback_unreminded",
            ),
        ]

    def __str__(self):
        return f"Call {self.lead} back at {self.due_at:%Y-%m-%d %H:%M}"


class Condition(models.TextChoices):
    """Operators shared by scoring and routing rules."""

    IN = "in", "is one of"
    NOT_IN = "not_in", "is not one of"
    EQ = "eq", "equals"
    GTE = "gte", "is at least"
    LTE = "lte", "is at most"
    IS_TRUE = "is_true", "is true"
    IS_FALSE = "is_false", "is false"


class LeadField(models.TextChoices):
    COUNTRY = "country", "Country"
    LANGUAGE = "language", "Language"
    EXPERIENCE = "experience", "Declared experience"
    SOURCE = "source", "Source"
    NET_WORTH = "net_worth_usd", "Net worth (USD)"
    ANNUAL_INCOME = "annual_income_usd", "Annual income (USD)"
    PHONE_VALID = "phone_valid", "Phone number valid"
    PHONE_INVALID = "phone_invalid", "Phone number given but not valid"
    EMAIL_DOMAIN = "email_domain", "Email domain"
    SCORE = "score", "Score"


class ScoringRule(models.Model):
    """Points for a lead matching a condition; the score is the sum, kept within 0-100."""

    name = models.CharField(max_length=100, unique=True)
    field = models.CharField(max_length=20, choices=LeadField.choices)
    operator = models.CharField(max_length=10, choices=Condition.choices)
    value = models.JSONField(
        default=list, blank=True, help_text='A list for "is one of", a number, or empty.'
    )
    points = models.SmallIntegerField(help_text="Negative to subtract.")
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100)
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class NurtureSequence(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    def __str__(self):
        return self.name


class NurtureStep(models.Model):
    """One email of a sequence, per language. `delay_minutes` counts from the previous step."""

    sequence = models.ForeignKey(NurtureSequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    language = models.CharField(max_length=8, default="en")
    delay_minutes = models.PositiveIntegerField(default=0)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Plain text. {first_name} and {unsubscribe_url} are filled.")

    class Meta:
        ordering = ["sequence", "position", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "position", "language"], name="leads_step_unique"
            )
        ]

    def __str__(self):
        return f"{self.sequence} #{self.position} ({self.language})"

    def clean(self):
        import string

        from django.core.exceptions import ValidationError

        allowed = {"first_name", "unsubscribe_url"}
        try:
            used = {name for _t, name, _f, _c in string.Formatter().parse(self.body) if name}
        except ValueError as exc:
            raise ValidationError({"body": f"Unbalanced braces: {exc}."}) from exc
        if used - allowed:
            raise ValidationError(
                {
                    "body": "Unknown placeholders: "
                    + ", ".join(sorted(used - allowed))
                    + ". Use {first_name} and {unsubscribe_url}."
                }
            )
        if "{unsubscribe_url}" not in self.body:
            raise ValidationError({"body": "Every email needs the {unsubscribe_url} link."})


class RoutingRule(models.Model):
    """Checked in order; the first whose conditions all match decides where the lead goes."""

    class Action(models.TextChoices):
        DESK = "desk", "Assign to a desk"
        SENIOR = "senior", "Assign to a senior account manager"
        NURTURE = "nurture", "Start a nurture sequence"

    class Distribution(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round-robin"
        LEAST_LOADED = "least_loaded", "Least-loaded"

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='All must match, e.g. [{"field": "country", "op": "in", "value": ["AE"]}]. '
        "Empty matches every lead.",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    desk = models.ForeignKey(
        "brokerage.Desk", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sequence = models.ForeignKey(
        NurtureSequence, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    distribution = models.CharField(
        max_length=12, choices=Distribution.choices, default=Distribution.ROUND_ROBIN
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from .scoring import validate_conditions

        validate_conditions(self.conditions)
        if self.action == self.Action.DESK and not self.desk_id:
            raise ValidationError({"desk": "Choose the desk this rule assigns to."})
        if self.action == self.Action.NURTURE and not self.sequence_id:
            raise ValidationError({"sequence": "Choose the nurture sequence."})


class NurtureEnrollment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="nurture")
    sequence = models.ForeignKey(NurtureSequence, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    next_position = models.PositiveSmallIntegerField(default=1)
    next_send_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_send_at"], condition=Q(state="active"), name="leads_nurture_due"
            )
        ]

    def __str__(self):
        return f"{self.lead} in {self.sequence}"


class NurtureSend(models.Model):
    """One step sent to one lead: unique, so a retried task never sends it twice."""

    enrollment = models.ForeignKey(
        NurtureEnrollment, on_delete=models.CASCADE, related_name="sends"
    )
    position = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "position"], name="leads_send_once")
        ]

    def __str__(self):
        return f"{self.enrollment} step {self.position}"


class LeadImport(models.Model):
    """A CSV of leads: uploaded, mapped, checked in a dry run, then applied as a background job."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "Import only if every row is valid"
        SKIP_INVALID = "skip_invalid", "Import the valid rows, skip the invalid ones"

    class State(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded: map the columns"
        CHECKING = "checking", "Dry run in progress"
        CHECKED = "checked", "Dry run done"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        REFUSED = "refused", "Not imported"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="lead-imports/%Y/%m/")
    filename = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True, help_text="lead field -> CSV column")
    source = models.CharField(max_length=60, blank=True, help_text="Source for rows without one.")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="First 1,000 invalid rows.")
    preview = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Import {self.pk} ({self.filename})"


class FunnelCounts(models.Model):
    """What the funnel counts of a set of leads (leads.rollups): how many were contacted (and
    how many late), registered, were verified, made a first deposit and traded, and the
    seconds from capture to FTD summed over those that deposited."""

    leads = models.IntegerField(default=0)
    registered = models.IntegerField(default=0)
    verified = models.IntegerField(default=0)
    ftd = models.IntegerField(default=0)
    trading = models.IntegerField(default=0)
    ftd_seconds = models.BigIntegerField(default=0)
    # First contact (leads.sla): leads a person contacted, and those contacted after their
    # desk's first-contact SLA had run out since they were assigned.
    contacted = models.IntegerField(default=0, db_default=0)
    contacted_late = models.IntegerField(default=0, db_default=0)

    class Meta:
        abstract = True


class FunnelDay(FunnelCounts):
    """The funnel of the leads captured on one day (leads.rollups), per desk, agent, country,
    source, campaign and IB referral code, by the time the day was rolled up."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    agent_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)
    source = models.CharField(max_length=60)
    campaign = models.CharField(max_length=100)
    ib_code = models.CharField(max_length=32)

    class Meta:
        db_table = "leads_rollup_funnel"
        indexes = [models.Index(fields=["day"], name="leads_rollup_funnel_day")]

    def __str__(self):
        return f"{self.day} funnel"


class FunnelCardDay(CardDay, FunnelCounts):
    """The funnel's card table (brokerage.rollups.Cards): `FunnelDay`'s rows summed per day,
    desk, country and IB code, the filters the funnel honours."""

    ib_code = models.CharField(max_length=32)

    class Meta:
        db_table = "leads_rollup_funnel_cards"
        indexes = [models.Index(fields=["day"], name="leads_funnel_cards_day")]

    def __str__(self):
        return f"{self.day} funnel cards"


class FunnelAgentCardDay(CardDay, FunnelCounts):
    """The funnel's agents' card table (brokerage.rollups.Cards): `FunnelDay`'s rows summed
    per day, desk, country, IB code and agent, for the agents' tables."""

    ib_code = models.CharField(max_length=32)
    agent_id = models.IntegerField(null=True)

    class Meta:
        db_table = "leads_rollup_funnel_agent_cards"
        indexes = [models.Index(fields=["day"], name="leads_funnel_agent_cards_day")]

    def __str__(self):
        return f"{self.day} funnel agent cards"
