"""Scheduled reports: a dashboard's daily or weekly summary as PDF, emailed to the staff who
subscribe to it.

- **Subscriptions.** A staff member subscribes on the back office's Reports page to a
  dashboard they may open (the leadership workspace or a team's dashboard, `dashboards_for`),
  daily or weekly, with the filters that dashboard offers (desk, country, PSP, IB), checked as
  the dashboard's own filter form checks them (a desk they do not lead is refused). They end
  it there too. Both are audited (`report.subscribed`, `report.unsubscribed`).
- **When.** The period is the UTC day or the Monday-to-Sunday week just ended; a day's report
  is due from `REPORTS_SEND_HOUR` (UTC) the next day, a week's from that hour on Monday
  (`period_due`). A subscription's first report is for the first period that ends on or after
  the day it was made.
- **Once per period.** `reports_send_due` (beat, `reports-send`) makes one `ReportSend` row per
  subscription and due period (unique in the database), claims it (`sending`), renders the
  PDF and emails it outside any transaction, then marks it `sent` (audited `report.sent`) in
  the transaction that checks the claim is still its own. A row claimed by a worker that died
  is taken over once the claim is older than `CLAIM_STALE` (longer than the task may run); a
  sent row is never sent again. A send the mail server refused goes back to `pending` and is
  tried at the next run, `MAX_ATTEMPTS` times in all, then `failed` (audited). A subscriber
  who may no longer open the dashboard, or whose filter no longer holds (a desk they stopped
  leading), is not sent it: `skipped`, audited, with the reason.
- **What the PDF holds** (`report_render`): the dashboard's title, the period, the filters in
  words, each KPI card with its change against the previous period, the charts as SVG bars
  (no JavaScript in a PDF), the tables, the brokerage's name; the figures are those the
  dashboard shows the subscriber (their desks), computed as the page computes them.
  Executives and dealers get figures only: a table's column of people's names is replaced by
  their ids (`Table.personal`), as in their exports. The words are the subscriber's language
  where the back office is translated (`brokerage.intl.staff_language`).
- **A preview** (`report_preview_send`) emails the latest ended period's report to the person
  asking, now, for a subscription or a choice not yet subscribed; audited, not a period's send.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.translation import gettext as _

from . import audit_events
from .audit import Actor, audit_record
from .errors import InvalidInput, NotAllowed
from .intl import staff_language
from .leadership import FILTER_LABELS, _table, leadership_context, leadership_filter_form
from .mail import email_send
from .models_reports import ReportSend, ReportSubscription
from .roles import reads_only
from .teams import TEAMS, Team

log = logging.getLogger(__name__)

SYSTEM = "system:reports"
PERMISSION = "brokerage.subscribe_reports"
LEADERSHIP = "leadership"
# A claim older than this belongs to a worker that died (the task's time limit is far less).
CLAIM_STALE = timedelta(minutes=15)
MAX_ATTEMPTS = 5
FILTERS = ("desk", "country", "psp", "ib")


class ReportRefused(InvalidInput):
    """The report cannot be made for this subscriber (the reason says why)."""

    code = "report_refused"


# --- Which dashboards ----------------------------------------------------------------------------


def _team(dashboard: str) -> Team | None:
    return None if dashboard == LEADERSHIP else TEAMS[dashboard]


def dashboard_title(dashboard: str) -> str:
    if dashboard == LEADERSHIP:
        return "Leadership workspace"
    return f"{TEAMS[dashboard].title} dashboard"


def dashboard_filters(dashboard: str) -> tuple[str, ...]:
    """The filters `dashboard` offers (a team's own; every one on the workspace)."""
    team = _team(dashboard)
    return FILTERS if team is None else tuple(f for f in FILTERS if f in team.filters)


def dashboards_for(user) -> list[tuple[str, str]]:
    """The dashboards `user` may subscribe to: those their role may open."""
    if not (user.is_active and user.is_staff and user.has_perm(PERMISSION)):
        return []
    out = (
        [(LEADERSHIP, dashboard_title(LEADERSHIP))]
        if user.has_perm("brokerage.view_leadership")
        else []
    )
    out += [
        (t.slug, dashboard_title(t.slug)) for t in TEAMS.values() if user.has_perm(t.permission)
    ]
    return out


def may_receive(user, dashboard: str) -> bool:
    return dashboard in dict(dashboards_for(user))


# --- When ----------------------------------------------------------------------------------------


def period_due(frequency: str, now: datetime) -> tuple[date, date]:
    """The latest period of `frequency` whose report is due at `now` (UTC): a day's from
    REPORTS_SEND_HOUR the next day, a week's (Monday to Sunday) from that hour on Monday."""
    now = now.astimezone(UTC)
    today, hour = now.date(), settings.REPORTS_SEND_HOUR
    before_hour = now.time() < time(hour)
    if frequency == ReportSubscription.Frequency.DAILY:
        end = today - timedelta(days=2 if before_hour else 1)
        return end, end
    monday = today - timedelta(days=today.weekday())
    if today == monday and before_hour:
        monday -= timedelta(days=7)
    return monday - timedelta(days=7), monday - timedelta(days=1)


def subscription_due(sub: ReportSubscription, now: datetime) -> tuple[date, date] | None:
    """The period `sub` is due a report for at `now`, or None (its first period has not
    ended yet)."""
    start, end = period_due(sub.frequency, now)
    return None if end < sub.created_at.date() else (start, end)


# --- Subscribing ---------------------------------------------------------------------------------


def _params(dashboard: str, start: date, end: date, **filters) -> dict:
    """The query string the dashboard's filter form reads, for the filters `dashboard` offers."""
    out = {"start": start.isoformat(), "end": end.isoformat()}
    for name in dashboard_filters(dashboard):
        value = filters.get(name)
        out[name] = "" if value in (None, "") else str(getattr(value, "pk", value))
    return out


def _check(user, dashboard: str, frequency: str, filters: dict) -> None:
    """Refuse a report `user` may not have, or filters its dashboard does not offer or
    refuses (the dashboard's own filter form decides)."""
    if dashboard not in {LEADERSHIP, *TEAMS}:
        raise InvalidInput(
            "Choose one of the dashboards offered.", code="unknown_dashboard",
            fields={"dashboard": ["Choose one of the dashboards offered."]},
        )  # fmt: skip
    if not may_receive(user, dashboard):
        raise NotAllowed(f"Your role does not include the {dashboard_title(dashboard)}.")
    if frequency not in ReportSubscription.Frequency.values:
        raise InvalidInput(
            "Choose daily or weekly.",
            code="bad_frequency",
            fields={"frequency": ["Choose daily or weekly."]},
        )
    offered = dashboard_filters(dashboard)
    errors = {
        name: [f"The {dashboard_title(dashboard)} has no {FILTER_LABELS[name]} filter."]
        for name, value in filters.items()
        if value not in (None, "") and name not in offered
    }
    if not errors:
        start, end = period_due(frequency, timezone.now())
        form, _desks = leadership_filter_form(
            user, _params(dashboard, start, end, **filters), _team(dashboard)
        )
        if not form.is_valid():
            errors = {name: list(errs) for name, errs in form.errors.items() if name in FILTERS}
            errors = errors or {
                "__all__": [" ".join(e for errs in form.errors.values() for e in errs)]
            }
    if errors:
        raise InvalidInput(
            " ".join(e for errs in errors.values() for e in errs), code="bad_filter", fields=errors
        )


def _checked(actor, dashboard: str, frequency: str, **filters) -> ReportSubscription:
    """The subscription `actor` asks for, checked (`_check`), not saved: a desk as a Desk or
    its id, the other filters as values."""
    if isinstance(actor, str):
        raise NotAllowed("Only a staff member subscribes to a report or asks for a preview.")
    filters["ib"] = (filters.get("ib") or "").upper()
    _check(actor, dashboard, frequency, filters)
    desk = filters.get("desk")
    return ReportSubscription(
        user=actor,
        dashboard=dashboard,
        frequency=frequency,
        created_at=timezone.now(),
        desk_id=getattr(desk, "pk", desk) or None,
        **{name: filters.get(name) or "" for name in ("country", "psp", "ib")},
    )


def _filters_evidence(sub: ReportSubscription) -> dict:
    return {
        "dashboard": sub.dashboard,
        "frequency": sub.frequency,
        "desk": sub.desk_id,
        "country": sub.country,
        "psp": sub.psp,
        "ib": sub.ib,
    }


@transaction.atomic(durable=True)
def report_subscribe(
    *,
    actor: Actor,
    dashboard: str,
    frequency: str,
    desk=None,
    country: str = "",
    psp: str = "",
    ib: str = "",
    request=None,
) -> ReportSubscription:
    """`actor` subscribes to `dashboard`'s `frequency` report with these filters (audited)."""
    sub = _checked(actor, dashboard, frequency, desk=desk, country=country, psp=psp, ib=ib)
    try:
        with transaction.atomic():
            sub.save()
    except IntegrityError as exc:
        raise InvalidInput(
            "You already receive this report with these filters.", code="already_subscribed"
        ) from exc
    audit_record(
        actor=actor,
        action=audit_events.REPORT_SUBSCRIBED,
        target=sub,
        reason=f"{sub.get_frequency_display()} {dashboard_title(dashboard)} report: "
        f"{filters_in_words(sub)}",
        evidence=_filters_evidence(sub),
        request=request,
    )
    return sub


@transaction.atomic(durable=True)
def report_unsubscribe(*, actor: Actor, subscription_id: int, request=None) -> ReportSubscription:
    """`actor` ends one of their own subscriptions (audited); another's is not theirs to end."""
    sub = (
        ReportSubscription.objects.select_for_update()
        .filter(pk=subscription_id, ended_at__isnull=True)
        .first()
    )
    if sub is None or isinstance(actor, str) or sub.user_id != actor.pk:
        raise InvalidInput("You have no such subscription.", code="no_subscription", status=404)
    sub.ended_at = timezone.now()
    sub.save(update_fields=["ended_at"])
    audit_record(
        actor=actor,
        action=audit_events.REPORT_UNSUBSCRIBED,
        target=sub,
        reason=f"{sub.get_frequency_display()} {dashboard_title(sub.dashboard)} report ended",
        evidence=_filters_evidence(sub),
        request=request,
    )
    return sub


def subscription_list(*, user):
    """`user`'s subscriptions in force."""
    return (
        ReportSubscription.objects.filter(user=user, ended_at__isnull=True)
        .select_related("desk")
        .order_by("dashboard", "frequency", "pk")
    )


def send_list(*, user):
    """The reports sent (or tried) to `user`, newest period first."""
    return ReportSend.objects.filter(subscription__user=user).select_related("subscription")


# --- The report ----------------------------------------------------------------------------------


def filters_in_words(sub, form=None) -> str:
    """The subscription's filters as people read them ("Desk London · Country United
    Kingdom"); `form` (the dashboard's filter form) names the PSPs and IBs."""
    from .intl import country_name

    if not dashboard_filters(sub.dashboard):
        return "None: the dashboard shows its queues as they stand"
    words = []
    if sub.desk_id:
        words.append(f"Desk {sub.desk.name}")
    if sub.country:
        words.append(f"Country {country_name(sub.country)}")
    labels = {}
    if form is not None:
        for name in ("psp", "ib"):
            if name in form.fields:
                labels[name] = dict(form.fields[name].choices)
    if sub.psp:
        words.append(f"PSP {labels.get('psp', {}).get(sub.psp, sub.psp)}")
    if sub.ib:
        words.append(f"IB {labels.get('ib', {}).get(sub.ib, sub.ib)}")
    return " · ".join(words) or "No filter: every desk, country, PSP and IB you see"


def _figures_only(table):
    """A dashboard table for a figures-only reader: each column of people's names replaced by
    their ids (`Table.personal`), or left out when there are none."""
    from copy import copy

    if not table.personal:
        return table
    keep, columns = [], []
    for i, header in enumerate(table.columns):
        if header not in table.personal:
            keep.append((i, None))
            columns.append(header)
        elif table.personal[header] is not None:
            keep.append((i, table.personal[header]))
            columns.append(f"{header} id")
    out = copy(table)
    out.columns = columns
    out.rows = [
        [row[i] if ids is None else ids[n] for i, ids in keep] for n, row in enumerate(table.rows)
    ]
    out.personal = {}
    return out


PALETTE = ("#0d6efd", "#adb5bd", "#198754", "#fd7e14", "#6f42c1")
SVG_W, SVG_H, SVG_LEFT, SVG_RIGHT, SVG_TOP, SVG_BOTTOM = 520, 190, 44, 44, 8, 22


def _scale(datasets) -> tuple[float, float, Callable[[float], float]]:
    """The low and high of `datasets` (0 always inside) and the y of a value on the plot."""
    values = [float(v or 0) for d in datasets for v in d["data"]] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    span, plot_h = (high - low) or 1.0, SVG_H - SVG_TOP - SVG_BOTTOM
    return low, high, lambda v: SVG_TOP + plot_h - (float(v or 0) - low) * plot_h / span


def _text(x: float, y: float, words: str, colour: str = "#495057", anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}">'
        f"{escape(words)}</text>"
    )


def chart_svg(chart) -> str:
    """A dashboard chart (`brokerage.rollups.Chart`) as a static SVG: bars on the left scale,
    a line dataset on its own right scale, a zero line, the first, middle and last labels."""
    plot_w = SVG_W - SVG_LEFT - SVG_RIGHT
    bottom = SVG_H - SVG_BOTTOM
    bars = [d for d in chart.datasets if d.get("type") != "line"]
    lines = [d for d in chart.datasets if d.get("type") == "line"]
    n = max(len(chart.labels), 1)
    group = plot_w / n
    bar_w = group * 0.8 / max(len(bars), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}" width="100%" '
        f'role="img" aria-label="{escape(chart.title)}" '
        'font-family="DejaVu Sans, sans-serif" font-size="9">'
    ]
    low, high, y = _scale(bars)
    for k, d in enumerate(bars):
        for i, v in enumerate(d["data"]):
            top, x = min(y(0), y(v)), SVG_LEFT + i * group + group * 0.1 + k * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
                f'height="{max(abs(y(v) - y(0)), 0.5):.1f}" fill="{PALETTE[k % len(PALETTE)]}"/>'
            )
    if bars:
        out.append(
            f'<line x1="{SVG_LEFT}" x2="{SVG_LEFT + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
            'stroke="#6c757d" stroke-width="0.6"/>'
        )
        out.append(_text(SVG_LEFT - 3, SVG_TOP + 8, _short(high), anchor="end"))
        if low < 0:
            out.append(_text(SVG_LEFT - 3, bottom, _short(low), anchor="end"))
    for k, d in enumerate(lines, start=len(bars)):
        line_low, line_high, line_y = _scale([d])
        colour = PALETTE[k % len(PALETTE)]
        points = " ".join(
            f"{SVG_LEFT + i * group + group / 2:.1f},{line_y(v):.1f}"
            for i, v in enumerate(d["data"])
        )
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"/>'
        )
        out.append(_text(SVG_LEFT + plot_w + 3, SVG_TOP + 8, _short(line_high), colour))
        if line_low < 0:
            out.append(_text(SVG_LEFT + plot_w + 3, bottom, _short(line_low), colour))
    shown = sorted({0, (n - 1) // 2, n - 1}) if n > 3 else range(len(chart.labels))
    for i in shown:
        if i < len(chart.labels):
            x = SVG_LEFT + i * group + group / 2
            out.append(_text(x, SVG_H - 6, str(chart.labels[i])[:18], anchor="middle"))
    out.append("</svg>")
    return "".join(out)


def chart_legend(chart) -> list[dict]:
    """Each dataset's label and colour, in the order `chart_svg` colours them."""
    ordered = sorted(chart.datasets, key=lambda d: d.get("type") == "line")
    return [
        {"label": d["label"], "colour": PALETTE[k % len(PALETTE)]} for k, d in enumerate(ordered)
    ]


def _short(value: float) -> str:
    """An axis value in few characters: 1.2M, 35k, 12."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if size >= 10 or value == int(value) else f"{value:.1f}"


def _rows_of(cards: list, n: int) -> list[list]:
    """`cards` in rows of `n`, the last row padded with None (an empty cell)."""
    rows = [cards[i : i + n] for i in range(0, len(cards), n)]
    if rows:
        rows[-1] = rows[-1] + [None] * (n - len(rows[-1]))
    return rows


def _period_words(start: date, end: date) -> str:
    if start == end:
        return date_format(start, "j M Y")
    return f"{date_format(start, 'j M Y')} – {date_format(end, 'j M Y')}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str
    pdf: bytes
    filename: str
    language: str


def report_render(sub: ReportSubscription, start: date, end: date, *, now=None) -> Rendered:
    """`sub`'s report for the period `start`..`end` as its subscriber would see the dashboard
    now: the HTML, the PDF and the email around it. ReportRefused when the subscriber may no
    longer see it, or its filters no longer hold."""
    from weasyprint import HTML

    user = sub.user
    if not may_receive(user, sub.dashboard):
        raise ReportRefused(f"{user} may no longer open the {dashboard_title(sub.dashboard)}.")
    team = _team(sub.dashboard)
    params = _params(
        sub.dashboard, start, end, desk=sub.desk_id, country=sub.country, psp=sub.psp, ib=sub.ib
    )
    ctx = leadership_context(user, params, team=team)
    form = ctx["form"]
    if form.errors:
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        raise ReportRefused(f"The report's filters no longer hold ({problems}).")
    tables = ctx["answer_tables"]
    if reads_only(user):
        tables = [_figures_only(t) for t in tables]
    language = staff_language(user)
    site = settings.SITE_URL.rstrip("/")
    title = dashboard_title(sub.dashboard)
    dated = team is None or team.dated
    made = now or timezone.now()
    with translation.override(language):
        period = _period_words(start, end)
        values = {
            "brokerage_name": settings.BROKERAGE_NAME or settings.SITE_NAME,
            "title": title,
            "frequency": sub.get_frequency_display(),
            "dated": dated,
            "period": period,
            "previous": _period_words(ctx["previous"].start, ctx["previous"].end),
            "filters": filters_in_words(sub, form),
            "subscriber": user.get_full_name() or user.email,
            "figures_only": reads_only(user),
            "groups": [g | {"rows": _rows_of(g["figures"], 4)} for g in ctx["groups"]],
            "charts": [
                {"title": c.title, "svg": chart_svg(c), "legend": chart_legend(c)}
                for c in ctx["charts"]
            ],
            "tables": [_table(t) for t in tables],
            "site": site,
            "generated_at": date_format(made.astimezone(UTC), "DATETIME_FORMAT") + " UTC",
            "language": language,
        }
        html = render_to_string("reports/dashboard_pdf.html", values)
        when = (
            period
            if dated
            else _("%(period)s (queues as they stood when it was made)") % {"period": period}
        )
        subject = _("%(brokerage)s: %(title)s, %(frequency)s report, %(when)s") % {
            "brokerage": values["brokerage_name"],
            "title": title,
            "frequency": values["frequency"].lower(),
            "when": when,
        }
        body = render_to_string(
            "reports/email.txt",
            values
            | {
                "when": when,
                "dashboard_url": site + _dashboard_path(sub.dashboard),
                "reports_url": site + reverse("backoffice:reports"),
            },
        )
    pdf = HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
    filename = f"{sub.dashboard}-{sub.frequency}-{start.isoformat()}.pdf"
    return Rendered(subject[:200], body, html, pdf, filename, language)


def _dashboard_path(dashboard: str) -> str:
    return reverse(
        "backoffice:home" if dashboard == LEADERSHIP else f"backoffice:dashboard_{dashboard}"
    )


def _email(rendered: Rendered, to: str) -> None:
    email_send(
        subject=rendered.subject,
        body=rendered.body,
        to=[to],
        attachments=[(rendered.filename, rendered.pdf, "application/pdf")],
    )


# --- Sending -------------------------------------------------------------------------------------


def reports_send_due(now: datetime | None = None) -> dict:
    """Make the due period's row for every subscription in force, then send each row waiting
    (or left claimed by a worker that died). Returns the count of each outcome."""
    now = now or timezone.now()
    subs = ReportSubscription.objects.filter(
        ended_at__isnull=True, user__is_active=True
    ).select_related("user")
    rows = []
    for sub in subs:
        period = subscription_due(sub, now)
        if period is not None:
            rows.append(
                ReportSend(
                    subscription=sub, period_start=period[0], period_end=period[1], created_at=now
                )
            )
    ReportSend.objects.bulk_create(rows, ignore_conflicts=True)
    done: dict[str, int] = {}
    for pk in (
        ReportSend.objects.filter(_claimable(now)).order_by("pk").values_list("pk", flat=True)
    ):
        outcome = report_send(pk, now=now)
        done[outcome] = done.get(outcome, 0) + 1
    return done


def _claimable(now) -> Q:
    return Q(status=ReportSend.Status.PENDING) | Q(
        status=ReportSend.Status.SENDING, claimed_at__lt=now - CLAIM_STALE
    )


def report_send(send_id: int, *, now: datetime | None = None) -> str:
    """Claim one period's report, render and email it, mark it sent: "sent", "retry",
    "failed", "skipped", or "taken" (another worker has it, or it went already)."""
    now = now or timezone.now()
    claimed = ReportSend.objects.filter(_claimable(now), pk=send_id).update(
        status=ReportSend.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return "taken"
    send = ReportSend.objects.select_related("subscription__user", "subscription__desk").get(
        pk=send_id
    )
    sub = send.subscription
    mine = ReportSend.objects.filter(pk=send.pk, status=ReportSend.Status.SENDING, claimed_at=now)
    try:
        rendered = report_render(sub, send.period_start, send.period_end, now=now)
    except ReportRefused as exc:
        with transaction.atomic():
            if mine.update(status=ReportSend.Status.SKIPPED, error=exc.message):
                _audit_send(audit_events.REPORT_SKIPPED, send, exc.message)
        return "skipped"
    try:
        _email(rendered, sub.user.email)
    except Exception as exc:  # noqa: BLE001  (the mail server's trouble: tried again later)
        log.exception("report %s could not be emailed", send.pk)
        last = send.attempts >= MAX_ATTEMPTS
        with transaction.atomic():
            status = ReportSend.Status.FAILED if last else ReportSend.Status.PENDING
            if (
                mine.update(
                    status=status, claimed_at=None, error=f"{exc.__class__.__name__}: {exc}"[:2000]
                )
                and last
            ):
                _audit_send(
                    audit_events.REPORT_FAILED,
                    send,
                    f"Not sent after {send.attempts} attempts: {exc}",
                )
        return "failed" if last else "retry"
    with transaction.atomic():
        if mine.update(
            status=ReportSend.Status.SENT,
            sent_at=timezone.now(),
            recipient=sub.user.email,
            subject=rendered.subject,
            language=rendered.language,
            pdf_bytes=len(rendered.pdf),
            pdf_sha256=hashlib.sha256(rendered.pdf).hexdigest(),
            error="",
        ):
            _audit_send(audit_events.REPORT_SENT, send, rendered.subject, rendered)
    return "sent"


def _audit_send(action: str, send: ReportSend, reason: str, rendered: Rendered | None = None):
    sub = send.subscription
    evidence = _filters_evidence(sub) | {
        "subscription": sub.pk,
        "period_start": send.period_start.isoformat(),
        "period_end": send.period_end.isoformat(),
        "to": sub.user.email,
        "attempts": send.attempts,
    }
    if rendered is not None:
        evidence |= {
            "pdf_sha256": hashlib.sha256(rendered.pdf).hexdigest(),
            "language": rendered.language,
        }
    audit_record(actor=SYSTEM, action=action, target=send, reason=reason[:500], evidence=evidence)


def report_preview_send(
    *, actor: Actor, dashboard: str, frequency: str, request=None, **filters
) -> Rendered:
    """Email `actor` the report of their choice for the latest ended period, now (audited;
    not a period's send): the filters and checks of `report_subscribe`."""
    sub = _checked(actor, dashboard, frequency, **filters)
    start, end = period_due(frequency, timezone.now())
    rendered = report_render(sub, start, end)
    try:
        _email(rendered, actor.email)
    except Exception as exc:  # noqa: BLE001  (said to the person asking; nothing recorded)
        log.exception("report preview to %s could not be emailed", actor.email)
        raise InvalidInput(
            f"The mail server did not take the preview ({exc.__class__.__name__}); try again "
            "in a moment.",
            code="mail_refused",
        ) from exc
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=audit_events.REPORT_PREVIEW_SENT,
            target=actor,
            reason=rendered.subject,
            evidence=_filters_evidence(sub)
            | {"period_start": start.isoformat(), "period_end": end.isoformat(), "to": actor.email},
            request=request,
        )
    return rendered
