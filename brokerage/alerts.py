"""Threshold alerts to team heads: a queue or a rate past its team's limit tells the heads once.

Each app measures what it owns and contributes an `AlertMetric` to the `alerts.metrics` hook
(brokerage.hooks) in its `contributions.py`: finance the withdrawals waiting, PSP decline rates
and unexplained reconciliation differences; kyc the review queue's age; compliance the AML
alerts on no case; clients the trading platforms' sync lag. A metric reads one value per
subject (a PSP, a trading server, or "" for the whole queue), names the permission of the
heads it concerns (who are told and who set its limit) and links to the queue.

`alerts_check()` (Celery beat, every minute) compares each reading with its limit
(`AlertThreshold`, the metric's default until a head changes it):

- over the limit, no breach open for that subject: a breach is **opened** and, in the same
  transaction, each head gets a notification (the back office's list, unread counted in the
  top bar) and the breach is **notified**; each notification is emailed once that commits;
- still over: the breach's last and peak values move, nobody is told again;
- back at or under the limit (or the subject gone): the breach is **resolved**; a later
  crossing opens a new breach and tells the heads again.

At most one unresolved breach per metric and subject (a unique index), so two checks running
at once tell nobody twice; one notification per head and breach (another). Each notification
is written, and emailed, in its head's language (`brokerage.intl.staff_language`); its email
is claimed before it is sent and marked sent after, with the email as it went, so a run that
dies in between loses nothing (a later run sends it) and two runs never both send it. A
breach opened while its team has no head stays open and is notified at the first check that
finds one. Every opening, resolution and limit change is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import audit_events
from .audit import Actor, audit_record
from .errors import InvalidInput, NotAllowed
from .hooks import ALERT_METRICS, contributions
from .intl import staff_language
from .mail import email_send
from .models_alerts import AlertBreach, AlertThreshold, StaffNotification

log = logging.getLogger(__name__)
SYSTEM = "system:alerts"
UNITS = {"hours": "h", "count": "", "pct": "%", "seconds": "s"}
# A notification's email claimed longer ago than this belongs to a run that died.
EMAIL_CLAIM_STALE = timedelta(minutes=5)
EMAIL_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Reading:
    value: Decimal
    subject: str = ""  # "" for the whole queue
    subject_label: str = ""
    url: str = ""  # the queue behind it (the metric's own when empty)


@dataclass(frozen=True)
class AlertMetric:
    """What an app measures for alerts: see the module docstring."""

    code: str  # "<app>.<name>"
    team: str  # the team whose heads are told: "Finance", "Compliance", "Operations"
    label: str  # "Oldest withdrawal waiting for a decision"
    unit: str  # hours | count | pct | seconds
    default_limit: Decimal
    heads: str  # the permission of the heads told (and who may change the limit)
    read: Callable[[datetime], list[Reading]]
    url: str = ""  # the queue (a URL name is resolved by the caller)
    hint: str = ""
    order: int = 100


def age_hours(oldest: datetime | None, now: datetime) -> Decimal:
    """Hours from `oldest` to `now` (0 when nothing waits)."""
    if oldest is None:
        return Decimal(0)
    return max(Decimal((now - oldest).total_seconds()) / 3600, Decimal(0))


def metrics() -> list[AlertMetric]:
    return sorted(contributions(ALERT_METRICS), key=lambda m: (m.order, m.code))


def metric_get(code: str) -> AlertMetric:
    for m in metrics():
        if m.code == code:
            return m
    raise InvalidInput(f"No alert named {code!r}.", code="unknown_alert")


def display(value, unit: str) -> str:
    """A reading as people read it: 26.5 h, 12.0%, 4, 310 s."""
    if value is None:
        return "—"
    value = Decimal(value)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "seconds":
        return f"{value:,.0f} s"
    return f"{value:,.1f}{' h' if unit == 'hours' else '%'}"


def heads_of(metric: AlertMetric):
    """The active staff who hold the metric's heads permission (by role or by hand)."""
    from django.contrib.auth.models import Permission

    from .models import User

    app_label, codename = metric.heads.split(".", 1)
    perms = Permission.objects.filter(codename=codename, content_type__app_label=app_label)
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__permissions__in=perms) | Q(user_permissions__in=perms))
        .distinct()
        .order_by("pk")
    )


def metrics_headed_by(user) -> list[AlertMetric]:
    """The metrics whose limits `user` sets (and is told about)."""
    return [m for m in metrics() if user.is_staff and user.has_perm(m.heads)]


def limits() -> dict[str, tuple[Decimal, bool]]:
    """Each metric's (limit, enabled) in force."""
    rows = {t.metric: t for t in AlertThreshold.objects.all()}
    out = {}
    for m in metrics():
        row = rows.get(m.code)
        out[m.code] = (row.limit, row.enabled) if row else (m.default_limit, True)
    return out


# --- The check ----------------------------------------------------------------------------------


def alerts_check(now: datetime | None = None) -> dict:
    """Read every metric, open, notify and resolve breaches (module docstring). Returns what
    changed: {"opened": [...], "resolved": [...], "notified": n, "failed": [metric codes]}."""
    now = now or timezone.now()
    in_force = limits()
    unresolved = {(b.metric, b.subject): b for b in AlertBreach.objects.exclude(status="resolved")}
    done = {"opened": [], "resolved": [], "notified": 0, "failed": []}
    for metric in metrics():
        try:
            readings = metric.read(now)
        except Exception:  # a metric that fails is named, the others still checked
            log.exception("alert metric %s could not be read", metric.code)
            done["failed"].append(metric.code)
            continue
        limit, enabled = in_force[metric.code]
        seen = set()
        for reading in readings:
            key = (metric.code, reading.subject)
            seen.add(key)
            value = Decimal(reading.value).quantize(Decimal("0.01"))
            breach = unresolved.get(key)
            if enabled and value > limit:
                if breach is None:
                    opened = _breach_open(metric, reading, value, limit, now)
                    if opened is not None:
                        done["opened"].append(f"{metric.code}:{reading.subject}")
                else:
                    _breach_update(breach, value, now)
            elif breach is not None:
                _breach_resolve(metric, breach, value, now)
                done["resolved"].append(f"{metric.code}:{reading.subject}")
        for key, breach in unresolved.items():
            if key[0] == metric.code and key not in seen:  # the subject is gone: nothing waits
                _breach_resolve(metric, breach, None, now)
                done["resolved"].append(f"{key[0]}:{key[1]}")
    done["notified"] = _notify_open(now)
    notifications_email_due()
    return done


def _breach_open(metric, reading: Reading, value, limit, now) -> AlertBreach | None:
    try:
        with transaction.atomic():
            breach = AlertBreach.objects.create(
                metric=metric.code,
                subject=reading.subject,
                subject_label=reading.subject_label,
                limit=limit,
                opened_value=value,
                last_value=value,
                peak_value=value,
                url=reading.url or metric.url,
                opened_at=now,
                last_seen_at=now,
            )
            _audit(audit_events.ALERT_BREACH_OPENED, metric, breach, value, "")
            _notify(metric, breach, now)
    except IntegrityError:  # another check opened it meanwhile
        return None
    return breach


def _breach_update(breach: AlertBreach, value, now) -> None:
    AlertBreach.objects.filter(pk=breach.pk).update(
        last_value=value, peak_value=max(breach.peak_value, value), last_seen_at=now
    )


def _breach_resolve(metric, breach: AlertBreach, value, now) -> None:
    with transaction.atomic():
        changed = AlertBreach.objects.filter(pk=breach.pk).exclude(status="resolved")
        if not changed.update(
            status=AlertBreach.Status.RESOLVED, resolved_at=now, last_value=value, last_seen_at=now
        ):
            return
        _audit(audit_events.ALERT_BREACH_RESOLVED, metric, breach, value, "back to ")


def _audit(action: str, metric: AlertMetric, breach: AlertBreach, value, words: str) -> None:
    """The trail of a breach opening or resolving (in the caller's transaction)."""
    audit_record(
        actor=SYSTEM,
        action=action,
        target=breach,
        reason=f"{_title(metric, breach)}: {words}{display(value, metric.unit)}, limit "
        f"{display(breach.limit, metric.unit)}",
        evidence={
            "metric": metric.code,
            "subject": breach.subject,
            "value": None if value is None else str(value),
            "limit": str(breach.limit),
        },
    )


def _title(metric: AlertMetric, breach: AlertBreach) -> str:
    what = f"{metric.label} ({breach.subject_label})" if breach.subject_label else metric.label
    return f"{metric.team}: {what}"


def _notify(metric: AlertMetric, breach: AlertBreach, now) -> int:
    """Tell each head, in the caller's transaction, in their language; mark the breach
    notified when someone was told. Emails go once that commits."""
    heads = list(heads_of(metric))
    if not heads:
        return 0
    words = {}  # the title and body in each head's language, written once per language
    for u in heads:
        language = staff_language(u)
        if language not in words:
            with translation.override(language):
                words[language] = _notification_words(metric, breach)
    StaffNotification.objects.bulk_create(
        [
            StaffNotification(
                user=u,
                breach=breach,
                title=words[staff_language(u)][0],
                body=words[staff_language(u)][1],
                url=breach.url,
                created_at=now,
                email_language=staff_language(u),
            )
            for u in heads
        ],
        ignore_conflicts=True,
    )
    AlertBreach.objects.filter(pk=breach.pk).update(
        status=AlertBreach.Status.NOTIFIED, notified_at=now
    )
    transaction.on_commit(notifications_email_due, robust=True)
    return len(heads)


def _notification_words(metric: AlertMetric, breach: AlertBreach) -> tuple[str, str]:
    """A breach's title and body in the active language."""
    title = _("%(what)s over the limit") % {"what": _title(metric, breach)}
    values = {
        "label": metric.label,
        "value": display(breach.peak_value, metric.unit),
        "limit": display(breach.limit, metric.unit),
        "since": f"{breach.opened_at:%Y-%m-%d %H:%M}",
        "subject": breach.subject_label,
    }
    if breach.subject_label:
        first = _(
            "%(label)s for %(subject)s is %(value)s, over the limit of %(limit)s your team set "
            "(since %(since)s UTC)."
        )
    else:
        first = _(
            "%(label)s is %(value)s, over the limit of %(limit)s your team set (since "
            "%(since)s UTC)."
        )
    then = _("You are told once; the alert closes by itself when it is back under the limit.")
    return title[:200], f"{first % values} {then}"


def _notify_open(now) -> int:
    """Breaches opened while their team had no head: tell the heads there are now."""
    told = 0
    by_code = {m.code: m for m in metrics()}
    for breach in AlertBreach.objects.filter(status=AlertBreach.Status.OPEN):
        metric = by_code.get(breach.metric)
        if metric is not None:
            with transaction.atomic():
                told += _notify(metric, breach, now)
    return told


def _claimable(now) -> Q:
    """Notifications not emailed yet, not given up, and not being emailed by a live run (a
    claim older than EMAIL_CLAIM_STALE belongs to a run that died)."""
    return Q(
        emailed_at__isnull=True, email_attempts__lt=EMAIL_MAX_ATTEMPTS, user__is_active=True
    ) & (Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lt=now - EMAIL_CLAIM_STALE))


def notifications_email_due(now: datetime | None = None) -> int:
    """Email each notification not emailed yet, in its head's language: claimed
    (`email_claimed_at`) so a second run or a second worker leaves it alone, sent, then marked
    sent (`emailed_at`) with the email as it went (subject, body, language). A run that dies
    between the claim and the mark loses nothing: the claim goes stale and a later run sends
    it. A send the mail server refuses is released and tried again by the next check, at most
    EMAIL_MAX_ATTEMPTS times; the notification stays on the list whatever happens."""
    now = now or timezone.now()
    sent = 0
    pending = StaffNotification.objects.filter(_claimable(now)).select_related("user")
    for n in pending.order_by("pk")[:500]:
        claim = now
        claimed = StaffNotification.objects.filter(_claimable(now), pk=n.pk).update(
            email_claimed_at=claim, email_attempts=F("email_attempts") + 1
        )
        if not claimed:
            continue
        mine = StaffNotification.objects.filter(
            pk=n.pk, emailed_at__isnull=True, email_claimed_at=claim
        )
        language = n.email_language or staff_language(n.user)
        subject, body = _email_words(n, language)
        try:
            email_send(subject=subject, body=body, to=[n.user.email])
        except Exception as exc:  # noqa: BLE001  (the list still shows it; the next check retries)
            log.exception("notification %s could not be emailed", n.pk)
            mine.update(email_claimed_at=None, email_error=f"{exc.__class__.__name__}: {exc}")
            continue
        mine.update(
            emailed_at=timezone.now(),
            email_language=language,
            email_subject=subject[:200],
            email_body=body,
            email_error="",
        )
        sent += 1
    return sent


def _email_words(n: StaffNotification, language: str) -> tuple[str, str]:
    """A notification's email (subject, body) in `language`."""
    site = settings.SITE_URL.rstrip("/")
    with translation.override(language):
        body = render_to_string(
            "emails/staff/notification.txt",
            {
                "body": n.body,
                "link": site + (n.url or "/backoffice/alerts/"),
                "all": site + "/backoffice/alerts/",
            },
        )
    return n.title, body


# --- Limits --------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def alert_threshold_set(
    *, actor: Actor, metric: str, limit: Decimal, enabled: bool, reason: str, request=None
) -> AlertThreshold:
    """A head sets their team's limit for `metric` (or turns its alert off), audited."""
    m = metric_get(metric)
    if isinstance(actor, str) or not actor.has_perm(m.heads):
        raise NotAllowed(f"Only the heads of {m.team} set this limit.")
    limit = Decimal(limit)
    if limit < 0 or (m.unit == "pct" and limit > 100):
        raise InvalidInput(
            "The limit is a positive number" + (" of at most 100%." if m.unit == "pct" else "."),
            code="bad_limit",
            fields={
                "limit": [
                    "Give a limit between 0 and 100."
                    if m.unit == "pct"
                    else "Give a limit of 0 or more."
                ]
            },  # fmt: skip
        )
    if not reason.strip():
        raise InvalidInput(
            "Say why the limit changes.", code="reason_required", fields={"reason": ["Required."]}
        )
    before = limits()[m.code]
    row, _ = AlertThreshold.objects.select_for_update().get_or_create(
        metric=m.code, defaults={"limit": limit}
    )
    row.limit, row.enabled = limit, enabled
    row.changed_by, row.changed_at = actor, timezone.now()
    row.save()
    audit_record(
        actor=actor,
        action=audit_events.ALERT_THRESHOLD_SET,
        target=row,
        reason=reason.strip(),
        evidence={
            "metric": m.code,
            "limit": str(limit),
            "enabled": enabled,
            "before": {"limit": str(before[0]), "enabled": before[1]},
        },
        request=request,
    )
    return row


# --- Notifications -------------------------------------------------------------------------------


def notification_list(*, user):
    return StaffNotification.objects.filter(user=user).select_related("breach")


def notifications_unread(*, user) -> int:
    return StaffNotification.objects.filter(user=user, read_at__isnull=True).count()


def notifications_mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one of `user`'s notifications read (or all of them); another's is not touched."""
    qs = StaffNotification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())
