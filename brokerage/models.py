"""Shared kernel models: users and their organisation, the audit log, integration keys, and the
country rules compliance owns and every app obeys."""

import hashlib
import json

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import (
    ArrayField,
    DateTimeRangeField,
    RangeBoundary,
    RangeOperators,
)
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .keys import HashedKey


class TsTzRange(models.Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in: staff (is_staff, with a role group), clients and IB partners.

    Clients and partners are never staff: their profile lives in `clients.Client` and
    `ib.Partner`.
    """

    email = models.EmailField("email address", unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        default=False, help_text="Staff use the back-office and must enrol in MFA."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()
    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        permissions = [
            ("access_backoffice", "Can use the staff back-office"),
            ("view_system_status", "Can see workers, queues and health"),
            ("view_team", "Can see desks and their agents"),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self):
        return self.first_name or self.email


class Desk(models.Model):
    """A sales/retention team, usually by region or language ("Dubai", "London", "Global")."""

    name = models.CharField(max_length=80, unique=True)
    languages = models.JSONField(
        default=list, blank=True, help_text='ISO 639-1 codes the desk serves, e.g. ["en", "ar"].'
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_desks",
    )
    is_active = models.BooleanField(default=True)
    sla_minutes = models.PositiveSmallIntegerField(
        "first-contact SLA (minutes)",
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="A lead assigned on this desk is contacted (a call, an email or a status "
        "change) within this many minutes: 1 to 1,440.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class StaffProfile(models.Model):
    """What routing and scoping need to know about a staff member."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    desk = models.ForeignKey(
        Desk, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    languages = models.JSONField(default=list, blank=True, help_text="ISO 639-1 codes spoken.")
    is_on_shift = models.BooleanField(default=True)
    last_lead_assigned_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Round-robin position."
    )
    history = HistoricalRecords(excluded_fields=["last_lead_assigned_at"])

    def __str__(self):
        return f"{self.user} ({self.desk or 'no desk'})"


class AuditChainHead(models.Model):
    """Where the sealed chain ends: the last seal's sequence number and hash.

    Only the sealer moves it, and the database lets it move only forward, onto a seal that
    exists (migration 0006), so `audit_verify` notices a deleted tail, which a chain alone
    cannot, and the head cannot be reset to make an emptied chain verify.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self):
        return f"audit chain head at seq {self.seq}"


class AuditEvent(models.Model):
    """Append-only record of every decision: who, what, on what, about which client, why,
    with what evidence.

    Writers only INSERT, in their own transaction (`brokerage.audit.audit_record`), and do not
    wait for each other. The sealer chains committed events shortly after commit: each gets an
    `AuditSeal` with its place in the chain and a hash over its content and the previous
    seal's hash. The database refuses UPDATE and DELETE on both tables (migrations 0002 and
    0006); `manage.py audit_verify` detects any change made around that.
    """

    HASH_VERSION = 2  # 1: events chained at write time (before 0006); 2: sealed after commit

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    actor_label = models.CharField(
        max_length=254, help_text="The actor's email at the time, or the system rule's name."
    )
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    # The client the event is about (a deposit's, a KYC submission's, the client's own), so a
    # client's whole trail is one index range. No foreign key: the kernel sits below clients.
    subject_client_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    evidence = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Text, not inet: the hash must cover exactly the bytes stored and read back.
    ip_address = models.CharField(max_length=45, null=True, blank=True)
    hash_version = models.PositiveSmallIntegerField(default=HASH_VERSION, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "id"], name="audit_target_idx"),
            models.Index(fields=["subject_client_id", "id"], name="audit_subject_idx"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id}"

    @property
    def is_system(self):
        return self.actor_id is None

    @property
    def action_label(self) -> str:
        """What staff read for the event's code (`brokerage.events`)."""
        from .events import label

        return label(self.action)

    @property
    def sealed(self) -> "AuditSeal | None":
        try:
            return self.seal
        except AuditSeal.DoesNotExist:
            return None

    @property
    def seq(self) -> int | None:
        """The event's place in the sealed chain; None until the sealer has reached it."""
        seal = self.sealed
        return seal.seq if seal else None

    def canonical_payload(self, *, seq: int, prev_hash: str) -> bytes:
        return audit_canonical_payload(
            version=self.hash_version,
            seq=seq,
            prev_hash=prev_hash,
            event_id=self.pk,
            occurred_at=self.occurred_at,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            action=self.action,
            target_type=self.target_type,
            target_id=self.target_id,
            target_repr=self.target_repr,
            subject_client_id=self.subject_client_id,
            reason=self.reason,
            evidence=self.evidence,
            ip_address=self.ip_address,
        )

    def compute_hash(self, *, seq: int, prev_hash: str) -> str:
        return hashlib.sha256(self.canonical_payload(seq=seq, prev_hash=prev_hash)).hexdigest()


def audit_canonical_payload(
    *, version: int, seq: int, prev_hash: str, event_id: int, occurred_at, **fields
) -> bytes:
    """The bytes a seal's hash covers. Changing a version's fields breaks its chains.

    Format 1 covers the place in the chain, the previous hash and the event's content; format 2
    also its id, its subject client and the format itself.
    """
    data = {
        "seq": seq,
        "occurred_at": occurred_at.isoformat(timespec="microseconds"),
        "actor_id": fields["actor_id"],
        "actor_label": fields["actor_label"],
        "action": fields["action"],
        "target_type": fields["target_type"],
        "target_id": fields["target_id"],
        "target_repr": fields["target_repr"],
        "reason": fields["reason"],
        "evidence": fields["evidence"],
        "ip_address": fields["ip_address"],
        "prev_hash": prev_hash,
    }
    if version >= 2:
        data["id"] = event_id
        data["subject_client_id"] = fields["subject_client_id"]
        data["hash_version"] = version
    return json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder).encode()


class AuditSeal(models.Model):
    """An event's place in the hash chain, written by the sealer after the event committed.

    Append-only like the events. No database foreign key, so that `audit_verify`, not a
    constraint an intruder can drop, is what notices a deleted event.
    """

    event = models.OneToOneField(
        AuditEvent,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        related_name="seal",
        db_constraint=False,
    )
    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self):
        return f"seal #{self.seq} of event {self.event_id}"


class AuditSealerState(models.Model):
    """Where the sealer is: the highest event id it has passed, and the ids below it that were
    not yet committed when it passed (ranges, with the snapshot that saw them missing).

    Written in the same transaction as the seals, so a crash at any point loses nothing.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sealed_through_id = models.BigIntegerField(default=0)
    holes = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"audit sealer through event {self.sealed_through_id}"


class ApiKey(HashedKey):
    """A key for one integration (a landing page, an affiliate, a PSP's callbacks).

    Only a SHA-256 digest is stored; the key itself is shown once, when it is created
    (`brokerage.keys`).
    """

    name = models.CharField(max_length=100, unique=True)
    scopes = models.JSONField(default=list, blank=True, help_text='e.g. ["leads:write"]')
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class ApiIdempotency(models.Model):
    """The first answer to an API call sent with an `Idempotency-Key`, replayed for repeats."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    path = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="brokerage_idempotency_unique")
        ]

    def __str__(self):
        return f"{self.api_key_id}:{self.key}"


class CountryRule(models.Model):
    """A country policy rule compliance owns and the lower apps obey: residents or nationals of
    `country` are blocked (no registration, no lead routing to sales), restricted (existing
    clients withdraw only) or under enhanced due diligence (four eyes on KYC, a lower unverified
    deposit limit), from `effective_from` until `effective_to` (open-ended when empty).

    Written only by compliance's audited services (`compliance.jurisdictions`); read through
    the kernel selectors in `brokerage.country_rules`. A rule is never deleted: its end is
    scheduled, and every change is kept in its history. Two rules of the same kind on the same
    country never overlap in time (an exclusion constraint).
    """

    class Kind(models.TextChoices):
        BLOCKED = "blocked", "Blocked"
        RESTRICTED = "restricted", "Restricted: withdraw only"
        EDD = "edd", "Enhanced due diligence"

    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(
        null=True, blank=True, help_text="When the rule stops applying; empty: until ended."
    )
    basis = models.CharField(
        "reason / legal basis",
        max_length=300,
        help_text="Shown in every refusal the rule causes, e.g. 'OFAC and EU sanctions'.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by_label = models.CharField(max_length=254)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the end was set.")
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_by_label = models.CharField(max_length=254, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["country", "kind", "effective_from"]
        indexes = [models.Index(fields=["country", "effective_from"], name="country_rule_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True)
                | models.Q(effective_to__gte=models.F("effective_from")),
                name="country_rule_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="country_rule_iso_code"
            ),
            ExclusionConstraint(
                name="country_rule_no_overlap",
                expressions=[
                    ("country", RangeOperators.EQUAL),
                    ("kind", RangeOperators.EQUAL),
                    (
                        TsTzRange("effective_from", "effective_to", RangeBoundary()),
                        RangeOperators.OVERLAPS,
                    ),
                ],
            ),
        ]

    def __str__(self):
        return f"{self.country_name} — {self.get_kind_display()} (rule {self.pk})"

    @property
    def country_name(self) -> str:
        from .intl import country_name

        return country_name(self.country)

    def in_force(self, at=None) -> bool:
        at = at or timezone.now()
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)

    def state(self, at=None) -> str:
        """ "in_force", "scheduled" (starts later) or "ended"."""
        at = at or timezone.now()
        if at < self.effective_from:
            return "scheduled"
        return "in_force" if self.in_force(at) else "ended"

    @property
    def title(self) -> str:
        """How a refusal names the rule: 'Jurisdiction rule 12 (Iran, blocked: OFAC sanctions)'."""
        return (
            f"jurisdiction rule {self.pk} ({self.country_name}, "
            f"{self.get_kind_display().lower()}: {self.basis})"
        )


class ClientCategory(models.TextChoices):
    """A client's category under MiFID II (and the FCA's and ASIC's equivalents): retail by
    default; professional on request, when compliance finds the criteria met; eligible
    counterparty for institutions. Leverage limits are set per category."""

    RETAIL = "retail", "Retail"
    PROFESSIONAL = "professional", "Professional"
    ELIGIBLE_COUNTERPARTY = "eligible_counterparty", "Eligible counterparty"


class Region(models.Model):
    """A named set of countries (EEA, UK, GCC ...) that a leverage limit names instead of one
    country (`LeverageLimit.jurisdiction` is its code) and an IB plan's rate can be narrowed to.
    Kept by IB managers and compliance officers through `brokerage.regions.region_save`, with
    its history; an app that relies on a region's countries refuses a change through the
    `region.change_refusals` hook (ib: a plan version pricing by it has paid a line)."""

    code = models.CharField(
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9_-]{2,8}$", "2-8 of A-Z, 0-9, _ and -.")],
        help_text="A short name, e.g. EEA; fixed once the region is made.",
    )
    name = models.CharField(max_length=100)
    countries = ArrayField(
        models.CharField(max_length=2), default=list, help_text="ISO 3166-1 alpha-2 codes."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_label = models.CharField(max_length=254, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        permissions = [("manage_regions", "Can make and change regions")]

    def __str__(self):
        return self.name


class LeverageLimit(models.Model):
    """The highest leverage a client of `category` residing in `jurisdiction` (a country's ISO
    code, or a `Region`'s code) may have on instruments of `instrument_class` (the
    instruments' classes: fx_major, fx_minor, ... stocks). A country's own limit wins over its
    region's. Written only by compliance's audited services; read through
    `brokerage.leverage_limits`."""

    jurisdiction = models.CharField(max_length=8, help_text="Country code (GB) or region (EEA)")
    category = models.CharField(max_length=24, choices=ClientCategory.choices)
    instrument_class = models.CharField(max_length=16)
    max_leverage = models.PositiveIntegerField(
        validators=[MinValueValidator(0)],
        help_text="0: the class is not allowed at all (e.g. crypto for UK retail clients).",
    )
    basis = models.CharField(
        "legal basis", max_length=300, help_text="Named in every refusal the limit causes."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_label = models.CharField(max_length=254, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["jurisdiction", "category", "instrument_class"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "category", "instrument_class"],
                name="leverage_limit_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(max_leverage__gte=0), name="leverage_limit_not_negative"
            ),
        ]

    def __str__(self):
        cap = f"1:{self.max_leverage}" if self.max_leverage else "not allowed"
        return f"{self.jurisdiction} {self.category} {self.instrument_class} {cap}"


from .models_alerts import AlertBreach, AlertThreshold, StaffNotification  # noqa: E402, F401
from .models_reports import ReportSend, ReportSubscription  # noqa: E402, F401


class CardDay(models.Model):
    """A row of a rollup's card table (brokerage.rollups.Cards): one day of the clients of one
    desk (none: clients on no desk) and country; the app adds the other filters it honours
    and its sums."""

    day = models.DateField()
    desk_id = models.IntegerField(null=True)
    country = models.CharField(max_length=2)

    class Meta:
        abstract = True


class RollupState(models.Model):
    """Where each rollup stands (brokerage.rollups): the watermark its last refresh read up to,
    and when it was last rebuilt from raw records."""

    name = models.CharField(max_length=40, primary_key=True)
    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    rebuild_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        permissions = [
            ("view_leadership", "Can see the leadership figures of their desks"),
            ("view_all_figures", "Can see the leadership figures of every desk"),
            ("view_sales_dashboard", "Can see the sales dashboard"),
            ("view_retention_dashboard", "Can see the retention dashboard"),
            ("view_finance_dashboard", "Can see the finance dashboard"),
            ("view_compliance_dashboard", "Can see the compliance dashboard"),
            ("view_dealing_dashboard", "Can see the dealing dashboard"),
        ]

    def __str__(self):
        return self.name
