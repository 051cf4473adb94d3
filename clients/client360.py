"""The client 360: one back-office page assembled from providers.

Each app that owns part of a client's story contributes a provider to the `client360.sections`
hook in its `contributions.py`: `fn(client, user) -> Contribution`. A provider adds page
sections (a template and its context), timeline entries, KPI cards, charts and communication
entries; clients itself provides the identity, standing, trading, communications, tickets and
retention parts (below, contributed in clients.contributions). clients never imports the apps
above it (see docs/architecture.md, the apps and their boundaries).

Every provider costs a fixed number of queries whatever the client's row counts: aggregates are
computed in SQL and every list is LIMITed, so the page stays fast for a client with millions
of deals.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Max, Q, Sum, Value, Window
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone

from brokerage.dashboard import Chart, Kpi
from brokerage.hooks import CLIENT_360_SECTIONS, contributions
from brokerage.labels import actor_display
from brokerage.money import format_money
from brokerage.statements import Statement

from .models import (
    AccountOpening,
    Client,
    ClientActivity,
    Deal,
    Position,
    RetentionFlag,
    SupportTicket,
    TradingAccount,
)

logger = logging.getLogger(__name__)

COMMUNICATIONS_LIMIT = 40
TIMELINE_LIMIT = 60
RECENT_DEALS_LIMIT = 20
POSITIONS_LIMIT = 50
TICKETS_LIMIT = 10
ACCOUNTS_LIMIT = 50
OPENINGS_LIMIT = 5
TRADING_DAYS = 30


@dataclass
class Section:
    key: str
    title: str
    template: str
    context: dict = field(default_factory=dict)
    order: int = 100
    column: str = "main"  # "main" (wide, left) or "side" (narrow, right)
    icon: str = "square"
    badge: str = ""  # a short count or state next to the title


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # a stable code for filtering and styling: "deposit", "call", "ticket", ...
    icon: str
    title: str
    detail: str = ""
    url: str = ""
    tone: str = "secondary"  # a Bootstrap colour: success, danger, warning, info, primary
    # What happened, named so that two providers telling the same happening show it once:
    # the object (its model label and id: "finance.deposit:12", as the audit trail names its
    # target) or a milestone ("ftd", "kyc-verified"). Of entries sharing a name within
    # SAME_HAPPENING, the first by `rank` stays: the provider that owns the object (0), a
    # summary of the client's record (1), the audit trail (2).
    same: tuple[str, ...] = ()
    rank: int = 0


@dataclass
class Communication:
    """One entry of the communication history (a note, call, email or outreach)."""

    at: datetime
    kind: str  # note | call | email | outreach
    actor: str
    subject: str = ""
    body: str = ""
    outcome: str = ""
    source: str = ""  # "client" or "lead": where it was recorded


@dataclass
class Contribution:
    sections: list[Section] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    communications: list[Communication] = field(default_factory=list)


Provider = Callable[[Client, object], Contribution]  # a `client360.sections` contribution


@dataclass
class Client360:
    client: Client
    main: list[Section]
    side: list[Section]
    timeline: list[TimelineEntry]
    kpis: list[Kpi]
    charts: list[Chart]
    communications: list[Communication]
    failed: list[str]


def client360_build(*, client: Client, user) -> Client360:
    """Run every provider for `client` as seen by `user` and merge what they contribute.

    A provider that fails is logged and named on the page; the rest of the 360 still shows."""
    whole = Contribution()
    failed = []
    for provider in contributions(CLIENT_360_SECTIONS):
        try:
            part = provider(client, user)
        except Exception:  # one broken part must not take the whole page down
            logger.exception("client 360 provider %s failed", provider.__qualname__)
            failed.append(provider.__module__.split(".")[0])
            continue
        whole.sections.extend(part.sections)
        whole.timeline.extend(part.timeline)
        whole.kpis.extend(part.kpis)
        whole.charts.extend(part.charts)
        whole.communications.extend(part.communications)
    communications = sorted(whole.communications, key=lambda c: c.at, reverse=True)
    communications = communications[:COMMUNICATIONS_LIMIT]
    for section in whole.sections:
        if section.key == "communications":
            section.context["entries"] = communications
            section.badge = str(len(communications)) if communications else ""
    sections = sorted(whole.sections, key=lambda s: (s.order, s.key))
    timeline = timeline_merge(whole.timeline)[:TIMELINE_LIMIT]
    return Client360(
        client=client,
        main=[s for s in sections if s.column != "side"],
        side=[s for s in sections if s.column == "side"],
        timeline=timeline,
        kpis=sorted(whole.kpis, key=lambda k: k.order),
        charts=sorted(whole.charts, key=lambda c: c.order),
        communications=communications,
        failed=failed,
    )


SAME_HAPPENING = timedelta(minutes=10)


def timeline_merge(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """One entry per happening, newest first: an entry naming what another, better-ranked
    entry already names (within SAME_HAPPENING of it) is the same event told twice; one
    provider's own entries (one rank) are never merged with each other."""
    kept: list[TimelineEntry] = []
    seen: dict[str, list[TimelineEntry]] = {}
    for entry in sorted(entries, key=lambda t: t.rank):
        if any(
            other.rank < entry.rank and abs(entry.at - other.at) <= SAME_HAPPENING
            for name in entry.same
            for other in seen.get(name, ())
        ):
            continue
        kept.append(entry)
        for name in entry.same:
            seen.setdefault(name, []).append(entry)
    return sorted(kept, key=lambda t: t.at, reverse=True)


# --- clients' own providers (contributed in clients.contributions) --------------------------


def _money_by_currency(totals: dict[str, Decimal]) -> str:
    return " · ".join(format_money(v, c) for c, v in sorted(totals.items())) or "—"


def identity_and_standing(client: Client, user) -> Contribution:
    """Who the client is, who looks after them, and their standing (no queries: the client row
    is loaded with its user, desk and account manager)."""
    today = timezone.now().date()
    expires = client.id_document_expires_on
    expiry_state = ""
    days_left = None
    if expires:
        days_left = (expires - today).days
        expiry_state = "expired" if days_left < 0 else "soon" if days_left <= 30 else "ok"
    warnings = []
    if client.restricted:
        warnings.append(("danger", "slash-circle", f"Restricted: {client.restriction_reason}"))
    if client.aml_case_open:
        warnings.append(("danger", "shield-exclamation", "An AML case is open"))
    if expiry_state == "expired":
        warnings.append(("danger", "person-vcard", f"ID document expired on {expires:%d %b %Y}"))
    elif expiry_state == "soon":
        warnings.append(
            (
                "warning",
                "person-vcard",
                f"ID document expires in {days_left} days ({expires:%d %b})",
            )
        )
    if client.kyc_level < 1:
        warnings.append(("warning", "person-exclamation", "Identity not verified (KYC level 0)"))
    for flag in client.risk_flags or []:
        warnings.append(("warning", "flag", f"Risk flag: {str(flag).replace('_', ' ')}"))
    timeline = [
        TimelineEntry(client.created_at, "registered", "person-plus", "Registered in the portal")
    ]
    if client.kyc_verified_at:
        timeline.append(
            TimelineEntry(
                client.kyc_verified_at,
                "kyc",
                "person-check",
                f"KYC level {client.kyc_level} verified",
                tone="success",
                same=("kyc-verified",),
                rank=1,
            )
        )
    if client.first_deposit_at:
        timeline.append(
            TimelineEntry(
                client.first_deposit_at,
                "ftd",
                "star",
                "First deposit (FTD)",
                tone="success",
                same=("ftd",),
                rank=1,
            )
        )
    return Contribution(
        sections=[
            Section(
                "profile",
                "Profile",
                "clients/360/_profile.html",
                {"client": client},
                order=10,
                column="side",
                icon="person-badge",
            ),
            Section(
                "compliance",
                "Compliance standing",
                "clients/360/_compliance.html",
                {
                    "client": client,
                    "warnings": warnings,
                    "expiry_state": expiry_state,
                    "days_left": days_left,
                },
                order=20,
                column="side",
                icon="shield-check",
                badge="attention" if any(w[0] == "danger" for w in warnings) else "",
            ),
        ],
        timeline=timeline,
    )


# What trading_summary reads of each account: its currency and running totals.
TOTALS_FIELDS = (
    "id",
    "currency",
    "realized_pl_amount",
    "closed_trades",
    "won_trades",
    "closed_volume",
    "trade_deals",
    "last_trade_at",
)


def trading_summary(client: Client, *, now=None, accounts: list | None = None) -> dict:
    """The client's trading in figures, in two queries: the last 30 days per day and account
    over the (client, time) index, and all time from each account's running totals. P/L is net
    of swap and commission, on buy and sell deals only; totals are per account currency
    (every account's, not only those the page lists). `accounts`: every one of the client's
    accounts, already read (then one query)."""
    now = now or timezone.now()
    first_day = now.astimezone(UTC).date() - timedelta(days=TRADING_DAYS - 1)
    since = datetime.combine(first_day, time.min, tzinfo=UTC)  # 30 UTC days, today included
    # All time: the running totals the deals trigger keeps on each account (one row each, not a
    # scan of a heavy trader's deals).
    if accounts is None:
        accounts = _ACCOUNT_TOTALS(client_id=client.pk)
    currencies = {a.id: a.currency for a in accounts}
    all_time = [
        {
            "account_id": a.id,
            "pl": a.realized_pl_amount,
            "closed": a.closed_trades,
            "wins": a.won_trades,
            "vol": a.closed_volume,
            "deals": a.trade_deals,
            "last_trade": a.last_trade_at,
        }
        for a in accounts
    ]
    recent = _RECENT_DEALS(client_id=client.pk, since=since)

    def by_currency(rows, key):
        out: dict[str, Decimal] = {}
        for r in rows:
            cur = currencies.get(r["account_id"], "?")
            out[cur] = out.get(cur, Decimal(0)) + r[key]
        return dict(sorted(out.items()))

    per_day: dict = {}
    for r in recent:
        per_day[r["day"]] = per_day.get(r["day"], 0) + r["deals"]
    days = [first_day + timedelta(days=i) for i in range(TRADING_DAYS)]
    closed = sum(r["closed"] for r in all_time)
    wins = sum(r["wins"] for r in all_time)
    return {
        "pl_all": by_currency(all_time, "pl"),
        "pl_30": by_currency(recent, "pl"),
        "closed": closed,
        "wins": wins,
        "win_rate": round(100 * wins / closed) if closed else None,
        "lots": Decimal(sum(r["vol"] for r in all_time)) / 10000,
        "lots_30": Decimal(sum(r["vol"] for r in recent)) / 10000,
        "deals": sum(r["deals"] for r in all_time),
        "deals_30": sum(r["deals"] for r in recent),
        "last_trade": max((r["last_trade"] for r in all_time if r["last_trade"]), default=None),
        "days": [d.isoformat() for d in days],
        "per_day": [per_day.get(d, 0) for d in days],
        "active_days_30": sum(1 for d in days if per_day.get(d)),
    }


def _with_accounts(statements: tuple[Statement, Statement], client, by_id: dict | None) -> list:
    """The client's rows of `statements` (deals or positions: without their accounts, with
    them) with their accounts from `by_id` (every account of the client, already read), or
    joined in the query when the accounts were not all read."""
    bare, joined = statements
    if by_id is None:
        return joined(client_id=client.pk)
    found = bare(client_id=client.pk)
    for row in found:
        row.account = by_id[row.account_id]
    return found


def _and_with_accounts(build) -> tuple[Statement, Statement]:
    return Statement(build), Statement(lambda v: build(v).select_related("account"))


# The trading section's reads, each compiled once per process (brokerage.statements).
_ACCOUNT_TOTALS = Statement(
    lambda v: TradingAccount.objects.filter(client_id=v.client_id).only(*TOTALS_FIELDS)
)


def _recent_deals(v):
    """The client's figures since a day, per day and account."""
    money = DecimalField(max_digits=24, decimal_places=2)
    zero = Value(Decimal(0), output_field=money)
    net = F("profit_amount") + F("swap_amount") + F("commission_amount")
    # a deal removed on the platform is kept, and counts no more
    trades = Q(action__in=(Deal.Action.BUY, Deal.Action.SELL), removed_at__isnull=True)
    closing = trades & Q(entry__in=(Deal.Entry.OUT, Deal.Entry.INOUT, Deal.Entry.OUT_BY))
    won = closing & Q(profit_amount__gt=-F("swap_amount") - F("commission_amount"))
    figures = {
        "pl": Coalesce(Sum(net, filter=trades, output_field=money), zero),
        "closed": Count("id", filter=closing),
        "wins": Count("id", filter=won),
        "vol": Coalesce(Sum("volume", filter=closing), 0),
        "deals": Count("id", filter=trades),
        "last_trade": Max("time", filter=trades),
    }
    return (
        Deal.objects.filter(client_id=v.client_id, time__gte=v.since)
        .annotate(day=TruncDate("time", tzinfo=UTC))  # UTC days, as `since` is
        .values("day", "account_id")
        .annotate(**figures)
        .order_by()
    )


_RECENT_DEALS = Statement(_recent_deals)


_ACCOUNTS = Statement(
    lambda v: (
        TradingAccount.objects.filter(client_id=v.client_id)
        .select_related("server", "account_type", "restraint")
        .order_by("status", "-opened_at")[:ACCOUNTS_LIMIT]
    )
)
_POSITIONS = _and_with_accounts(
    lambda v: Position.objects.filter(client_id=v.client_id).order_by("-opened_at")[
        :POSITIONS_LIMIT
    ]
)
_FLOATING = Statement(
    lambda v: (
        Position.objects.filter(client_id=v.client_id)
        .values(currency=F("account__currency"))
        .annotate(pl=Sum(F("profit_amount") + F("swap_amount")), n=Count("id"), vol=Sum("volume"))
        .order_by("currency")
    )
)
_DEALS = _and_with_accounts(
    lambda v: Deal.objects.filter(client_id=v.client_id).order_by("-time", "-ticket")[
        :RECENT_DEALS_LIMIT
    ]
)
# Openings whose answer was lost: being confirmed, or how they ended (the client may ask).
_OPENINGS = Statement(
    lambda v: (
        AccountOpening.objects.filter(client_id=v.client_id)
        .filter(Q(status=AccountOpening.Status.PENDING) | Q(lookups__gt=0))
        .select_related("account_type", "account")
        .order_by("-requested_at")[:OPENINGS_LIMIT]
    )
)


def trading(client: Client, user) -> Contribution:
    """Accounts, totals per currency, open positions, the trading figures and the last deals."""
    accounts = _ACCOUNTS(client_id=client.pk)
    totals: dict[str, dict] = {}
    for a in accounts:
        if a.status != TradingAccount.Status.ACTIVE:
            continue
        t = totals.setdefault(
            a.currency,
            {"balance": Decimal(0), "equity": Decimal(0), "margin": Decimal(0), "free": Decimal(0)},
        )
        t["balance"] += a.balance_amount
        t["equity"] += a.equity_amount
        t["margin"] += a.margin_amount
        t["free"] += a.margin_free_amount
    # every account of the client is listed (the usual case): the deals, the positions and the
    # summary use them without reading them again
    every = len(accounts) < ACCOUNTS_LIMIT
    by_id = {a.pk: a for a in accounts} if every else None
    positions = _with_accounts(_POSITIONS, client, by_id)
    floating = {r["currency"]: r for r in _FLOATING(client_id=client.pk)}
    summary = trading_summary(client, accounts=accounts if every else None)
    deals = _with_accounts(_DEALS, client, by_id)
    open_count = sum(r["n"] for r in floating.values())
    openings = _OPENINGS(client_id=client.pk)
    kpis = [
        Kpi(
            "Trading equity",
            _money_by_currency({c: t["equity"] for c, t in totals.items()}),
            "graph-up",
            hint=f"{len([a for a in accounts if a.status == 'active'])} active account(s)",
            order=20,
        ),
        Kpi(
            f"P/L, {TRADING_DAYS} days",
            _money_by_currency(summary["pl_30"]),
            "cash-coin",
            hint="net of swap and commission",
            order=30,
        ),
        Kpi(
            f"Deals, {TRADING_DAYS} days",
            summary["deals_30"],
            "bar-chart",
            hint=f"traded on {summary['active_days_30']} of {TRADING_DAYS} days",
            order=40,
        ),
    ]
    timeline = []
    for a in accounts:
        timeline.append(
            TimelineEntry(
                a.opened_at,
                "account",
                "window-plus",
                f"Trading account {a.login} opened",
                f"{a.server.name} · {a.currency} · 1:{a.leverage}",
                same=(f"clients.tradingaccount:{a.pk}",),
            )
        )
    for o in openings:
        timeline.append(
            TimelineEntry(
                o.requested_at,
                "account",
                "hourglass-split",
                f"Account opening {o.get_status_display().lower()}",
                f"{o.account_type.name} · {o.reference}"
                + (f" · login {o.account.login}" if o.account else ""),
                tone="secondary" if o.status == AccountOpening.Status.OPENED else "warning",
                same=(f"clients.accountopening:{o.pk}",),
            )
        )
    if summary["last_trade"]:
        timeline.append(
            TimelineEntry(
                summary["last_trade"],
                "trade",
                "arrow-left-right",
                "Last trade",
                f"{summary['deals']} deal(s) in all",
                tone="primary",
            )
        )
    return Contribution(
        sections=[
            Section(
                "trading",
                "Trading",
                "clients/360/_trading.html",
                {
                    "accounts": accounts,
                    "openings": [o for o in openings if o.status != AccountOpening.Status.OPENED],
                    "totals": sorted(totals.items()),
                    "positions": positions,
                    "positions_more": max(open_count - len(positions), 0),
                    "floating": floating,
                    "summary": summary,
                    "days": TRADING_DAYS,
                },
                order=20,
                icon="graph-up-arrow",
                badge=f"{open_count} open" if open_count else "",
            ),
            Section(
                "deals",
                "Recent deals",
                "clients/360/_deals.html",
                {"deals": deals, "limit": RECENT_DEALS_LIMIT},
                order=60,
                icon="list-columns",
            ),
        ],
        kpis=kpis,
        charts=[
            Chart(
                id="client-deals-per-day",
                title=f"Deals per day, last {TRADING_DAYS} days",
                kind="bar",
                labels=[d[5:] for d in summary["days"]],
                datasets=[{"label": "Deals", "data": summary["per_day"]}],
                order=10,
            )
        ],
        timeline=timeline,
    )


_ACTIVITIES = Statement(
    lambda v: ClientActivity.objects.filter(client_id=v.client_id).order_by("-created_at", "-id")[
        :COMMUNICATIONS_LIMIT
    ]
)


def communications(client: Client, user) -> Contribution:
    """Notes, calls, emails and outreach recorded on the client (the lead's are added by leads);
    the forms to add a note and log a call are shown to whoever may see the client, unless
    their role only reads."""
    from brokerage.roles import reads_only

    from .forms_backoffice import CallForm, NoteForm

    activities = _ACTIVITIES(client_id=client.pk)
    icons = {"note": "sticky", "call": "telephone", "email": "envelope", "outreach": "megaphone"}
    comms = [
        Communication(
            at=a.created_at,
            kind=a.kind,
            actor=actor_display(a.actor_label),
            subject=a.subject,
            body=a.body,
            outcome=ClientActivity.CallOutcome(a.data["outcome"]).label
            if a.data.get("outcome") in ClientActivity.CallOutcome.values
            else str(a.data.get("outcome", "")),
            source="client",
        )
        for a in activities
    ]
    timeline = [
        TimelineEntry(
            a.created_at,
            a.kind,
            icons.get(a.kind, "chat"),
            a.get_kind_display(),
            f"{actor_display(a.actor_label)}: {a.subject or a.body}"[:160],
            tone="info",
        )
        for a in activities
    ]
    return Contribution(
        sections=[
            Section(
                "communications",
                "Communication history",
                "clients/360/_communications.html",
                {
                    "client": client,
                    "note_form": NoteForm(),
                    "call_form": CallForm(),
                    "reads_only": reads_only(user),
                },
                order=40,
                icon="chat-left-text",
            )
        ],
        communications=comms,
        timeline=timeline,
    )


# the latest tickets, each row carrying the counts over all of the client's tickets (the
# window is taken before the LIMIT): one query
_TICKETS = Statement(
    lambda v: (
        SupportTicket.objects.filter(client_id=v.client_id)
        .select_related("assigned_to")
        .annotate(
            n_open=Window(Count("id", filter=Q(status=SupportTicket.Status.OPEN))),
            n_answered=Window(Count("id", filter=Q(status=SupportTicket.Status.ANSWERED))),
            n_total=Window(Count("id")),
        )
        .order_by("-created_at")[:TICKETS_LIMIT]
    )
)


def support_tickets(client: Client, user) -> Contribution:
    tickets = _TICKETS(client_id=client.pk)
    first = tickets[0] if tickets else None
    counts = {
        "open": first.n_open if first else 0,
        "answered": first.n_answered if first else 0,
        "total": first.n_total if first else 0,
    }
    can_answer = user.is_superuser or user.has_perm("clients.answer_tickets")
    timeline = []
    for t in tickets:
        url = reverse("clients:ticket", args=[t.pk]) if can_answer else ""
        timeline.append(
            TimelineEntry(
                t.created_at,
                "ticket",
                "life-preserver",
                f"Ticket #{t.pk} opened",
                t.subject,
                url=url,
                tone="warning",
                same=(f"clients.supportticket:{t.pk}",),
            )
        )
        if t.closed_at:
            timeline.append(
                TimelineEntry(
                    t.closed_at,
                    "ticket",
                    "check2-circle",
                    f"Ticket #{t.pk} closed",
                    t.subject,
                    url=url,
                    same=(f"clients.supportticket:{t.pk}",),
                )
            )
    waiting = counts["open"]
    return Contribution(
        sections=[
            Section(
                "tickets",
                "Support tickets",
                "clients/360/_tickets.html",
                {"tickets": tickets, "counts": counts, "can_answer": can_answer},
                order=50,
                icon="life-preserver",
                badge=f"{waiting} waiting" if waiting else "",
            )
        ],
        kpis=[
            Kpi(
                "Open tickets",
                waiting + counts["answered"],
                "life-preserver",
                hint=f"{waiting} waiting for us" if waiting else "none waiting for us",
                order=60,
            )
        ],
        timeline=timeline,
    )


_OPEN_FLAG = Statement(
    lambda v: RetentionFlag.objects.filter(
        client_id=v.client_id, status=RetentionFlag.Status.OPEN
    ).order_by("-flagged_at", "pk")[:1]
)


def retention(client: Client, user) -> Contribution:
    flag = _OPEN_FLAG.first(client_id=client.pk)
    if flag is None:
        return Contribution()
    # Only those who work the queue get a link to the flag (others would meet a 403).
    works_queue = user.has_perm("clients.work_retention")
    url = reverse("retention:flag", args=[flag.pk]) if works_queue else ""
    return Contribution(
        sections=[
            Section(
                "retention",
                "Retention flag",
                "clients/360/_retention.html",
                {
                    "flag": flag,
                    "url": url,
                },
                order=5,
                column="side",
                icon="exclamation-diamond",
                badge=f"{flag.days_inactive} days",
            )
        ],
        timeline=[
            TimelineEntry(
                flag.flagged_at,
                "retention",
                "exclamation-diamond",
                "Flagged for retention",
                ", ".join(s.get("label", s.get("code", "")) for s in flag.signals),
                url=url,
                tone="danger",
                same=(f"clients.retentionflag:{flag.pk}",),
            )
        ],
    )


# Audit events about the client record that another entry tells as a milestone.
AUDIT_MILESTONES = {"client.ftd": ("ftd",), "client.kyc_level_changed": ("kyc-verified",)}


def _audit_events(v):
    from brokerage.models import AuditEvent

    return (
        AuditEvent.objects.filter(subject_client_id=v.client_id)
        .exclude(action="client.registered")
        .order_by("-id")[:30]
    )


_AUDIT_EVENTS = Statement(_audit_events)


def audit_trail(client: Client, user) -> Contribution:
    """Every decision recorded about the client (their own record, deposits, KYC, tickets,
    flags: the events whose subject they are) for the timeline."""
    events = _AUDIT_EVENTS(client_id=client.pk)
    see_audit = user.is_superuser or user.has_perm("brokerage.view_auditevent")
    return Contribution(
        timeline=[
            TimelineEntry(
                e.occurred_at,
                "audit",
                "journal-check",
                e.action_label,
                f"{actor_display(e.actor_label)}{': ' + e.reason if e.reason else ''}",
                url=reverse("backoffice:audit_event", args=[e.pk]) if see_audit else "",
                same=(
                    *((f"{e.target_type}:{e.target_id}",) if e.target_type else ()),
                    *AUDIT_MILESTONES.get(e.action, ()),
                ),
                rank=2,
            )
            for e in events
        ]
    )
