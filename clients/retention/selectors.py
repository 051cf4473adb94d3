"""Retention reads: the queue, its KPIs, a flag's page, the outreach templates that suit a
flag, and the desks whose thresholds a manager may set.

Contract: reads only. Every function that takes `user` scopes to the clients that user may see
(`clients.selectors.clients_visible_to`), once, here; another desk's flag is NotAllowed. The
queue and the KPIs cost a fixed number of queries whatever the number of flags.
"""

import re
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet
from django.db.models.expressions import Func
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.errors import NotAllowed
from brokerage.models import Desk
from clients.models import (
    Client,
    Deal,
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    TradingAccount,
)
from clients.selectors import clients_visible_to

from .signals import CLOSING, SIGNAL_COLORS, TRADES, signal_labels

# --- The queue and a flag's page -----------------------------------------------------------------


class _JsonbLength(Func):
    function = "jsonb_array_length"
    output_field = IntegerField()


def _flags_visible_to(user) -> QuerySet[RetentionFlag]:
    return RetentionFlag.objects.filter(client__in=clients_visible_to(user).values("pk"))


def retention_queue(
    *,
    user,
    signal: str = "",
    desk_id: int | None = None,
    outcome: str = "",
    uncontacted: bool = False,
    q: str = "",
) -> QuerySet[RetentionFlag]:
    """Open flags of the clients `user` may see: most signals first, then longest quiet.
    `outcome="none"` keeps flags with no outcome logged yet."""
    qs = _flags_visible_to(user).filter(status=RetentionFlag.Status.OPEN)
    if signal:
        qs = qs.filter(signals__contains=[{"code": signal}])
    if desk_id:
        qs = qs.filter(desk_id=desk_id)
    if outcome == "none":
        qs = qs.filter(last_outcome="")
    elif outcome:
        qs = qs.filter(last_outcome=outcome)
    if uncontacted:
        qs = qs.filter(last_contacted_at__isnull=True)
    q = (q or "").strip()
    if q:
        match = (
            Q(client__user__email__icontains=q)
            | Q(client__user__first_name__icontains=q)
            | Q(client__user__last_name__icontains=q)
            | Q(client__phone__icontains=q)
        )
        if q.isascii() and q.isdigit() and len(q) < 19:
            match |= Q(client_id=int(q)) | Q(
                Exists(TradingAccount.objects.filter(client_id=OuterRef("client_id"), login=int(q)))
            )
        qs = qs.filter(match)
    return (
        qs.select_related("client__user", "client__account_manager", "desk")
        .annotate(n_signals=_JsonbLength("signals"))
        .order_by("-n_signals", "-days_inactive", "pk")
    )


def retention_flag_get(*, user, flag_id: int) -> RetentionFlag:
    """The flag, if `user` may see its client: RetentionFlag.DoesNotExist for an unknown id,
    NotAllowed for another desk's client."""
    flag = RetentionFlag.objects.select_related(
        "client__user", "client__account_manager", "client__desk", "desk"
    ).get(pk=flag_id)
    if not clients_visible_to(user).filter(pk=flag.client_id).exists():
        raise NotAllowed("This client belongs to another desk.")
    return flag


def retention_summary(*, user, days: int = 14) -> dict:
    """KPIs and charts of the queue page, in a fixed number of queries."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    flags = _flags_visible_to(user)
    codes = list(signal_labels())
    counts = flags.filter(status=RetentionFlag.Status.OPEN).aggregate(
        open=Count("id"),
        contacted_today=Count("id", filter=Q(last_contacted_at__gte=today)),
        **{f"s_{c}": Count("id", filter=Q(signals__contains=[{"code": c}])) for c in codes},
    )
    actions = RetentionAction.objects.filter(flag__in=flags.values("pk"))
    reached = actions.filter(
        created_at__gte=now - timedelta(days=7),
        outcome__in=[RetentionFlag.Outcome.REACHED, RetentionFlag.Outcome.DEPOSIT],
    ).aggregate(n=Count("flag_id", distinct=True))["n"]
    start = (now - timedelta(days=days - 1)).date()
    per_day = defaultdict(lambda: {"email": 0, "call": 0})
    for row in (
        actions.filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day", "channel")
        .annotate(n=Count("id"))
    ):
        per_day[row["day"]][row["channel"]] = row["n"]
    day_list = [start + timedelta(days=i) for i in range(days)]
    won_back = flags.filter(
        status=RetentionFlag.Status.CLEARED,
        cleared_at__gte=now - timedelta(days=30),
        cleared_reason__startswith="Traded again",
        last_contacted_at__isnull=False,
    ).count()
    labels = signal_labels()
    return {
        "open": counts["open"],
        "contacted_today": counts["contacted_today"],
        "reached_week": reached,
        "won_back_30d": won_back,
        "by_signal": [(c, labels[c], counts[f"s_{c}"]) for c in codes],
        "charts": [
            {
                "id": "flags-by-signal",
                "title": "Open flags by signal",
                "kind": "bar",
                "labels": [labels[c] for c in codes],
                "datasets": [
                    {
                        "label": "Open flags",
                        "data": [counts[f"s_{c}"] for c in codes],
                        "backgroundColor": [SIGNAL_COLORS.get(c, "#6c757d") for c in codes],
                    }
                ],
            },
            {
                "id": "outreach-per-day",
                "title": f"Outreach, last {days} days",
                "kind": "bar",
                "labels": [d.strftime("%d %b") for d in day_list],
                "datasets": [
                    {"label": "Emails", "data": [per_day[d]["email"] for d in day_list]},
                    {"label": "Calls", "data": [per_day[d]["call"] for d in day_list]},
                ],
            },
        ],
    }


def retention_flag_context(flag: RetentionFlag, *, deals: int = 10) -> dict:
    """What the flag page shows beside the signals: accounts, last closed trades, history."""
    accounts = list(
        TradingAccount.objects.filter(client_id=flag.client_id)
        .select_related("server")
        .order_by("status", "-opened_at")[:20]
    )
    last = list(
        Deal.objects.filter(client_id=flag.client_id, action__in=TRADES, entry__in=CLOSING)
        .select_related("account")
        .order_by("-time", "-ticket")[:deals]
    )
    actions = list(flag.actions.select_related("actor", "template").order_by("-created_at")[:50])
    previous = list(
        RetentionFlag.objects.filter(client_id=flag.client_id)
        .exclude(pk=flag.pk)
        .order_by("-flagged_at")[:5]
    )
    return {"accounts": accounts, "deals": last, "actions": actions, "previous": previous}


# --- Outreach templates --------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _standing(client: Client) -> dict:
    """The client's main trading balance (the currency holding the most) and last symbol."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, balance in TradingAccount.objects.filter(
        client=client, status=TradingAccount.Status.ACTIVE
    ).values_list("currency", "balance_amount"):
        totals[currency] += balance
    currency = max(totals, key=lambda c: totals[c]) if totals else ""
    symbol = (
        Deal.objects.filter(client=client, action__in=TRADES)
        .exclude(symbol="")
        .order_by("-time")
        .values_list("symbol", flat=True)
        .first()
    )
    return {
        "balance": f"{totals[currency]:,.2f}" if currency else "0.00",
        "currency": currency or "USD",
        "last_symbol": symbol or "the markets",
    }


def template_values(flag: RetentionFlag, *, agent=None) -> dict[str, str]:
    client = flag.client
    manager = agent or client.account_manager
    return {
        "first_name": client.user.first_name or "there",
        "days_inactive": str(flag.days_inactive),
        "agent_name": (manager.get_full_name() if manager else "") or "Client Services",
        **_standing(client),
    }


def template_render(template: OutreachTemplate, flag: RetentionFlag, *, agent=None):
    """(subject, body) of `template` for the flag's client. Known placeholders are filled;
    anything else in braces is left as written (never an error)."""
    values = template_values(flag, agent=agent)

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")

    return fill(template.subject), fill(template.body)


def templates_for(flag: RetentionFlag) -> list[OutreachTemplate]:
    """Active templates in the client's language (English where there is none), those answering
    the flag's specific signals first, then generic check-ins, then the rest."""
    language = (flag.client.language or "en").lower()
    rows = list(OutreachTemplate.objects.filter(is_active=True, language__in={language, "en"}))
    local = {(t.channel, t.signal) for t in rows if t.language == language}
    rows = [t for t in rows if t.language == language or (t.channel, t.signal) not in local]
    codes = [s.get("code") for s in flag.signals or []]
    specific = [c for c in codes if c != "inactive"]

    def rank(t: OutreachTemplate):
        if t.signal in specific:
            group = (0, specific.index(t.signal))
        elif t.signal in ("", "inactive"):
            group = (1, 0)
        else:
            group = (2, 0)
        return (*group, t.channel != OutreachTemplate.Channel.EMAIL, t.name)

    return sorted(rows, key=rank)


# --- Policies (settings page) --------------------------------------------------------------------


def retention_desks_for(user) -> tuple[bool, QuerySet[Desk]]:
    """(may edit the default policy, desks whose thresholds `user` may set): ops every desk
    and the default; a desk manager the desks they manage or sit on."""
    if not (user.is_superuser or user.has_perm("clients.manage_retention")):
        return False, Desk.objects.none()
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return True, Desk.objects.filter(is_active=True)
    return False, Desk.objects.filter(
        Q(manager=user) | Q(members__user=user), is_active=True
    ).distinct()
