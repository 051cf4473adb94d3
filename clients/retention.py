"""Retention: the daily inactivity run, its context signals, outreach and outcomes.

A funded client who has not traded for the desk's threshold (default 12 days) gets one open
`RetentionFlag` with the signals that explain why they went quiet: a losing streak, a sharp fall
in balance, a failed withdrawal (finance registers that one), no portal login. Agents work the
queue, reach out from templates that answer those signals, and log what came of it. The flag
clears when the client trades again: at once when the platform sync ingests their deals
(`retention_flags_clear_on_trade`), and in any case at the next daily run.

The run is set-based: one SQL statement per signal over the whole candidate set, batched
writes, one batched audit insert; never a query per client.
"""

import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet
from django.db.models.expressions import Func
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import Desk, User
from brokerage.money import format_money
from brokerage.services import Actor, audit_record, audit_record_many

from .models import (
    Client,
    ClientActivity,
    Deal,
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    RetentionPolicy,
    TradingAccount,
)
from .selectors import clients_visible_to

SYSTEM_ACTOR = "rule:retention"
BALANCE_WINDOW = timedelta(days=7)
TRADES = (Deal.Action.BUY, Deal.Action.SELL)
CLOSING = (Deal.Entry.OUT, Deal.Entry.INOUT, Deal.Entry.OUT_BY)
STREAK = 3
SIGNAL_COLORS = {  # the badges' Bootstrap colours, for charts
    "inactive": "#6c757d",
    "losing_streak": "#dc3545",
    "balance_drop": "#ffc107",
    "failed_withdrawal": "#0dcaf0",
    "no_login": "#212529",
}
# Serialises the daily run with clearing on trade, so a run never re-opens a flag that a
# sync cleared while the run was reading.
_RUN_LOCK = 0x52_45_54_31  # "RET1"

# --- Signals -----------------------------------------------------------------------------------

SignalFn = Callable[[list[int], datetime], dict[int, str]]


@dataclass(frozen=True)
class ExternalSignal:
    code: str
    label: str
    fn: SignalFn


_external: dict[str, ExternalSignal] = {}

BUILTIN_LABELS = {
    "inactive": "Inactive",
    "losing_streak": "Losing streak",
    "balance_drop": "Balance drop",
    "no_login": "No portal login",
}


def register_retention_signal(code: str, label: str, fn: SignalFn) -> None:
    """A signal owned by another app: `fn(client_ids, now)` returns {client_id: detail} for the
    clients it applies to. Apps register in their AppConfig.ready()."""
    if code in BUILTIN_LABELS:
        raise ValueError(f"{code} is a built-in retention signal.")
    _external[code] = ExternalSignal(code, label, fn)


def signal_labels() -> dict[str, str]:
    """Every signal code and label, in the order a flag lists them."""
    labels = {k: BUILTIN_LABELS[k] for k in ("inactive", "losing_streak", "balance_drop")}
    labels.update({s.code: s.label for s in _external.values()})
    labels["no_login"] = BUILTIN_LABELS["no_login"]
    return labels


def _signal(code: str, detail: str) -> dict:
    return {"code": code, "label": signal_labels().get(code, code), "detail": detail}


def _money_sum(by_currency: dict[str, Decimal]) -> str:
    return " + ".join(format_money(abs(v), c) for c, v in sorted(by_currency.items()))


def _day(value: datetime) -> str:
    return f"{value.day} {value:%b %Y}"


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _losing_streaks(client_ids: list[int]) -> dict[int, str]:
    """Clients whose last 3 closed trades (buy/sell deals that close: out, reverse, close-by)
    all lost money net of swap and commission. Three index probes per client."""
    if not client_ids:
        return {}
    sql = f"""
        SELECT c.id, x.symbol, x.net, x.currency
        FROM unnest(%s::bigint[]) AS c(id)
        CROSS JOIN LATERAL (
            SELECT d.symbol, d.profit_amount + d.swap_amount + d.commission_amount AS net,
                   a.currency, d.time, d.ticket
            FROM {_table(Deal)} d JOIN {_table(TradingAccount)} a ON a.id = d.account_id
            WHERE d.client_id = c.id AND d.action = ANY(%s) AND d.entry = ANY(%s)
            ORDER BY d.time DESC, d.ticket DESC
            LIMIT {STREAK}
        ) x
        ORDER BY c.id, x.time DESC, x.ticket DESC
    """  # noqa: S608 (table names from model metadata; values are parameters)
    rows = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(sql, [client_ids, list(TRADES), list(CLOSING)])
        for client_id, symbol, net, currency in cur.fetchall():
            rows[client_id].append((symbol, net, currency))
    out = {}
    for client_id, trades in rows.items():
        if len(trades) < STREAK or any(net >= 0 for _, net, _ in trades):
            continue
        lost = defaultdict(Decimal)
        for _, net, currency in trades:
            lost[currency] += net
        symbols = ", ".join(s or "?" for s, _, _ in trades)
        out[client_id] = f"Last {STREAK} closed trades lost {_money_sum(lost)} in total ({symbols})"
    return out


def _balance_drops(client_ids: list[int], now: datetime, percent_for: dict[int, int]):
    """Accounts whose balance fell by the policy's percentage or more within 7 days. The
    balance 7 days ago is today's balance less the net of every deal since (trading and
    balance operations alike)."""
    if not client_ids:
        return {}
    sql = f"""
        SELECT a.client_id, a.login, a.currency, a.balance_amount,
               COALESCE(SUM(d.profit_amount + d.swap_amount + d.commission_amount), 0),
               COALESCE(SUM(d.profit_amount + d.swap_amount + d.commission_amount)
                        FILTER (WHERE d.action = ANY(%s)), 0)
        FROM {_table(TradingAccount)} a
        LEFT JOIN {_table(Deal)} d
               ON d.account_id = a.id AND d.time > %s AND d.time <= %s
        WHERE a.client_id = ANY(%s) AND a.status = %s
        GROUP BY a.id
    """  # noqa: S608
    worst: dict[int, tuple] = {}
    with connection.cursor() as cur:
        cur.execute(
            sql,
            [list(TRADES), now - BALANCE_WINDOW, now, client_ids, TradingAccount.Status.ACTIVE],
        )
        for client_id, login, currency, balance, net, trading in cur.fetchall():
            before = balance - net
            if before <= 0 or balance >= before:
                continue
            drop = ((before - balance) * 100 / before).quantize(Decimal(1), ROUND_HALF_UP)
            if (before - balance) * 100 < before * percent_for[client_id]:
                continue
            if client_id not in worst or drop > worst[client_id][0]:
                worst[client_id] = (drop, login, currency, before, balance, trading, net - trading)
    out = {}
    for client_id, (drop, login, currency, before, balance, trading, other) in worst.items():
        parts = []
        if trading:
            parts.append(f"trading {format_money(trading, currency)}")
        if other:
            parts.append(f"balance operations {format_money(other, currency)}")
        why = f" ({', '.join(parts)})" if parts else ""
        out[client_id] = (
            f"Balance of account {login} fell {drop}% in 7 days, from "
            f"{format_money(before, currency)} to {format_money(balance, currency)}{why}"
        )
    return out


# --- The daily run -----------------------------------------------------------------------------


@dataclass
class _Candidate:
    client_id: int
    desk_id: int | None
    last_trade_at: datetime | None
    first_opened_at: datetime
    last_login: datetime | None


def _candidates() -> list[_Candidate]:
    """Clients (not closed) with at least one active trading account that is funded: a
    balance or equity above zero, or any deal at all."""
    sql = f"""
        SELECT c.id, c.desk_id, c.last_trade_at, a.first_opened_at, u.last_login
        FROM (
            SELECT ta.client_id, MIN(ta.opened_at) AS first_opened_at
            FROM {_table(TradingAccount)} ta
            GROUP BY ta.client_id
            HAVING bool_or(ta.status = %s AND (
                ta.balance_amount > 0 OR ta.equity_amount > 0
                OR EXISTS (SELECT 1 FROM {_table(Deal)} d WHERE d.account_id = ta.id)))
        ) a
        JOIN {_table(Client)} c ON c.id = a.client_id
        JOIN {_table(User)} u ON u.id = c.user_id
        WHERE c.status <> %s
    """  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, [TradingAccount.Status.ACTIVE, Client.Status.CLOSED])
        return [_Candidate(*row) for row in cur.fetchall()]


def _policies() -> dict[int | None, RetentionPolicy]:
    return {p.desk_id: p for p in RetentionPolicy.objects.filter(is_active=True)}


def _policy_for(policies, desk_id) -> RetentionPolicy | None:
    return policies.get(desk_id) or policies.get(None)


def _update_flags(rows: list[tuple], columns: list[tuple[str, str]], where: str = "") -> int:
    """UPDATE flags from parallel arrays (one statement per 5,000 rows): `rows` are tuples
    (id, *values) in the order of `columns` [(column, postgres type)]."""
    if not rows:
        return 0
    table = _table(RetentionFlag)
    names = ["id", *(c for c, _ in columns)]
    types = ["bigint", *(t for _, t in columns)]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f"{c} = v.{c}" for c, _ in columns)
    # Column and table names are ours; every value is a parameter.
    head = f"UPDATE {table} f SET {sets} "  # noqa: S608
    sql = head + f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE f.id = v.id {where}"
    done = 0
    with connection.cursor() as cur:
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            cur.execute(sql, [list(col) for col in zip(*chunk, strict=True)])
            done += cur.rowcount
    return done


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


@transaction.atomic
def retention_flags_run(*, now: datetime | None = None, actor: Actor = SYSTEM_ACTOR) -> dict:
    """Flag every funded client with no trade for their desk's threshold (or refresh their open
    flag's days and signals), and clear open flags whose client traded within it again."""
    started = time.monotonic()
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_RUN_LOCK])
    policies = _policies()
    candidates = {c.client_id: c for c in _candidates()}
    open_flags = {
        f["client_id"]: f
        for f in RetentionFlag.objects.filter(status=RetentionFlag.Status.OPEN).values(
            "id", "client_id", "last_trade_at", "desk_id"
        )
    }

    quiet: dict[int, tuple[_Candidate, RetentionPolicy, int]] = {}
    clear: dict[int, str] = {}  # flag id -> reason
    for client_id, cand in candidates.items():
        policy = _policy_for(policies, cand.desk_id)
        flag = open_flags.get(client_id)
        since = cand.last_trade_at or cand.first_opened_at
        days = max((now - since).days, 0)
        if policy is not None and days >= policy.inactivity_days:
            quiet[client_id] = (cand, policy, days)
        elif flag is not None:
            if policy is None:
                clear[flag["id"]] = "No active retention policy applies to the client's desk"
            elif cand.last_trade_at and (
                flag["last_trade_at"] is None or cand.last_trade_at > flag["last_trade_at"]
            ):
                clear[flag["id"]] = f"Traded again on {_day(cand.last_trade_at)}"
            else:
                clear[flag["id"]] = (
                    f"Within the inactivity threshold again ({policy.inactivity_days} days)"
                )
    for client_id, flag in open_flags.items():
        if client_id not in candidates:
            clear[flag["id"]] = "No funded trading account any more"

    ids = sorted(quiet)
    signals: dict[int, list[dict]] = {}
    for client_id in ids:
        cand, policy, days = quiet[client_id]
        detail = (
            f"No trade for {days} days (threshold {policy.inactivity_days})"
            if cand.last_trade_at
            else f"Never traded since the first account opened {days} days ago "
            f"(threshold {policy.inactivity_days})"
        )
        signals[client_id] = [_signal("inactive", detail)]
    found = {
        "losing_streak": _losing_streaks(ids),
        "balance_drop": _balance_drops(
            ids, now, {i: quiet[i][1].balance_drop_percent for i in ids}
        ),
    }
    for code, ext in _external.items():
        found[code] = ext.fn(ids, now) if ids else {}
    no_login = {}
    for client_id in ids:
        cand, policy, _ = quiet[client_id]
        if cand.last_login is None:
            no_login[client_id] = "Has never signed in to the client portal"
        elif cand.last_login < now - timedelta(days=policy.no_login_days):
            ago = (now - cand.last_login).days
            no_login[client_id] = (
                f"Last portal sign-in {ago} days ago, on {_day(cand.last_login)} "
                f"(threshold {policy.no_login_days})"
            )
    found["no_login"] = no_login
    for code in signal_labels():
        for client_id, detail in found.get(code, {}).items():
            if client_id in signals:
                signals[client_id].append(_signal(code, detail))

    new = [
        RetentionFlag(
            client_id=i,
            desk_id=quiet[i][0].desk_id,
            status=RetentionFlag.Status.OPEN,
            days_inactive=quiet[i][2],
            last_trade_at=quiet[i][0].last_trade_at,
            signals=signals[i],
            flagged_at=now,
            refreshed_at=now,
        )
        for i in ids
        if i not in open_flags
    ]
    RetentionFlag.objects.bulk_create(new, batch_size=2000)
    refreshed = _update_flags(
        [
            (
                open_flags[i]["id"],
                quiet[i][0].desk_id,
                quiet[i][2],
                quiet[i][0].last_trade_at,
                _json(signals[i]),
                now,
            )
            for i in ids
            if i in open_flags
        ],
        [
            ("desk_id", "bigint"),
            ("days_inactive", "integer"),
            ("last_trade_at", "timestamptz"),
            ("signals", "jsonb"),
            ("refreshed_at", "timestamptz"),
        ],
        where=f"AND f.status = '{RetentionFlag.Status.OPEN}'",
    )
    client_of = {f["id"]: f["client_id"] for f in open_flags.values()}
    cleared_rows = [
        (fid, RetentionFlag.Status.CLEARED, now, reason) for fid, reason in clear.items()
    ]
    cleared = _update_flags(
        cleared_rows,
        [("status", "text"), ("cleared_at", "timestamptz"), ("cleared_reason", "text")],
        where=f"AND f.status = '{RetentionFlag.Status.OPEN}'",
    )
    audit_record_many(
        actor=actor,
        action="retention.flagged",
        entries=[
            (
                flag,
                flag.signals[0]["detail"],
                {
                    "client_id": flag.client_id,
                    "days_inactive": flag.days_inactive,
                    "signals": [s["code"] for s in flag.signals],
                },
            )
            for flag in new
        ],
    )
    audit_record_many(
        actor=actor,
        action="retention.cleared",
        entries=[
            (
                RetentionFlag(
                    pk=fid, client_id=client_of[fid], status=RetentionFlag.Status.CLEARED
                ),
                reason,
                {"client_id": client_of[fid]},
            )
            for fid, reason in sorted(clear.items())
        ],
    )
    return {
        "candidates": len(candidates),
        "flagged": len(new),
        "refreshed": refreshed,
        "cleared": cleared,
        "seconds": round(time.monotonic() - started, 2),
    }


@transaction.atomic
def retention_flags_clear_on_trade(*, client_ids, actor: Actor, wait: bool = True) -> int:
    """The client traded again: clear their open flags. The platform sync calls this after it
    ingests new buy/sell deals for `client_ids` (and has moved their last trade time). A flag
    stays open if the client's last trade is no newer than the one it was raised on (a late
    deal from before the flag). Returns how many flags it cleared.

    With `wait=False` (the sync) it never waits for a daily run in progress: the clearing is
    queued for the worker instead, so the sync keeps its pace."""
    ids = sorted({int(i) for i in client_ids})
    if not ids:
        return 0
    with connection.cursor() as cur:
        if wait:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_RUN_LOCK])
        else:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_RUN_LOCK])
            if not cur.fetchone()[0]:
                from .tasks import retention_flags_clear_task

                transaction.on_commit(
                    lambda: retention_flags_clear_task.apply_async((ids,), countdown=30)
                )
                return 0
    flags = list(
        RetentionFlag.objects.select_for_update()
        .filter(status=RetentionFlag.Status.OPEN, client_id__in=ids)
        .order_by("pk")
    )
    if not flags:
        return 0
    traded = dict(
        Client.objects.filter(pk__in=[f.client_id for f in flags]).values_list(
            "pk", "last_trade_at"
        )
    )
    flags = [
        f
        for f in flags
        if traded.get(f.client_id)
        and (f.last_trade_at is None or traded[f.client_id] > f.last_trade_at)
    ]
    if not flags:
        return 0
    now = timezone.now()
    entries = []
    for flag in flags:
        at = traded[flag.client_id]
        flag.status = RetentionFlag.Status.CLEARED
        flag.cleared_at = now
        flag.cleared_reason = f"Traded again on {_day(at)}"
        entries.append((flag, flag.cleared_reason, {"client_id": flag.client_id}))
    RetentionFlag.objects.bulk_update(flags, ["status", "cleared_at", "cleared_reason"])
    audit_record_many(actor=actor, action="retention.cleared", entries=entries)
    return len(flags)


# --- Outreach ------------------------------------------------------------------------------------

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


# Which call outcome (the communication history's vocabulary) a retention outcome means.
_CALL_OUTCOME = {
    RetentionFlag.Outcome.NO_ANSWER: ClientActivity.CallOutcome.NO_ANSWER,
    RetentionFlag.Outcome.CALL_BACK: ClientActivity.CallOutcome.CALL_BACK,
}


def _may_work(actor) -> bool:
    return isinstance(actor, str) or (
        actor.is_active
        and actor.is_staff
        and (actor.is_superuser or actor.has_perm("clients.work_retention"))
    )


@transaction.atomic
def retention_action_log(
    *,
    flag: RetentionFlag,
    actor: Actor,
    channel: str,
    template: OutreachTemplate | None = None,
    subject: str = "",
    body: str = "",
    outcome: str = "",
) -> RetentionAction:
    """Log an outreach on a flag: an email (sent to the client after commit) or a call (with
    its outcome). Both go to the client's communication history and update the flag."""
    if not _may_work(actor):
        raise NotAllowed("Your role does not work the retention queue.")
    flag = RetentionFlag.objects.select_for_update().select_related("client__user").get(pk=flag.pk)
    if not isinstance(actor, str) and not (
        clients_visible_to(actor).filter(pk=flag.client_id).exists()
    ):
        raise NotAllowed("This client belongs to another desk.")
    if flag.status != RetentionFlag.Status.OPEN:
        raise InvalidInput("This flag is cleared: the client is active again.", code="flag_cleared")
    if channel not in OutreachTemplate.Channel.values:
        raise InvalidInput("Choose email or call.", fields={"channel": ["Unknown channel."]})
    if outcome and outcome not in RetentionFlag.Outcome.values:
        raise InvalidInput("Unknown outcome.", fields={"outcome": ["Unknown outcome."]})
    if template is not None and not (subject or body):
        subject, body = template_render(
            template, flag, agent=None if isinstance(actor, str) else actor
        )
    subject, body = subject.strip()[:200], body.strip()
    client = flag.client
    errors = {}
    if channel == OutreachTemplate.Channel.EMAIL:
        if not subject:
            errors["subject"] = ["An email needs a subject."]
        if not body:
            errors["body"] = ["An email needs a message."]
        if not client.user.email:
            errors["channel"] = ["The client has no email address."]
    elif not outcome:
        errors["outcome"] = ["Say how the call went."]
    if errors:
        raise InvalidInput("The outreach is incomplete.", fields=errors)

    now = timezone.now()
    action = RetentionAction.objects.create(
        flag=flag,
        template=template,
        channel=channel,
        outcome=outcome,
        subject=subject if channel == OutreachTemplate.Channel.EMAIL else "",
        body=body,
        actor=None if isinstance(actor, str) else actor,
    )
    label = actor if isinstance(actor, str) else actor.email
    data = {
        "flag_id": flag.pk,
        "retention_action_id": action.pk,
        "template": template.name if template else "",
        "retention_outcome": outcome,
    }
    if channel == OutreachTemplate.Channel.EMAIL:
        ClientActivity.objects.create(
            client=client,
            kind=ClientActivity.Kind.OUTREACH,
            actor=None if isinstance(actor, str) else actor,
            actor_label=label,
            subject=subject,
            body=body,
            data={**data, "channel": "email", "to": client.user.email},
        )
    else:
        ClientActivity.objects.create(
            client=client,
            kind=ClientActivity.Kind.CALL,
            actor=None if isinstance(actor, str) else actor,
            actor_label=label,
            subject="Retention call",
            body=body,
            data={
                **data,
                "outcome": _CALL_OUTCOME.get(outcome, ClientActivity.CallOutcome.ANSWERED),
            },
        )
    update = ["last_contacted_at"]
    flag.last_contacted_at = now
    if outcome:
        flag.last_outcome = outcome
        update.append("last_outcome")
    flag.save(update_fields=update)
    audit_record(
        actor=actor,
        action="retention.email_sent" if channel == "email" else "retention.call_logged",
        target=flag,
        reason=RetentionFlag.Outcome(outcome).label if outcome else subject,
        evidence={
            "client_id": client.pk,
            "channel": channel,
            "template": template.name if template else None,
            "outcome": outcome or None,
        },
    )
    if channel == OutreachTemplate.Channel.EMAIL:
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[client.user.email],
            reply_to=[actor.email] if not isinstance(actor, str) else None,
        )
        transaction.on_commit(message.send)
    return action


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


@transaction.atomic
def retention_policy_set(
    *,
    actor,
    desk: Desk | None,
    inactivity_days: int,
    balance_drop_percent: int,
    no_login_days: int,
    is_active: bool = True,
) -> RetentionPolicy:
    """Set a desk's thresholds (desk None: the default everyone else gets). Audited."""
    may_default, desks = retention_desks_for(actor)
    if desk is None and not may_default:
        raise NotAllowed("Only operations set the default retention policy.")
    if desk is not None and not desks.filter(pk=desk.pk).exists():
        raise NotAllowed("You set thresholds for your own desks only.")
    errors = {}
    if not 1 <= inactivity_days <= 365:
        errors["inactivity_days"] = ["Between 1 and 365 days."]
    if not 1 <= balance_drop_percent <= 100:
        errors["balance_drop_percent"] = ["Between 1 and 100 percent."]
    if not 1 <= no_login_days <= 365:
        errors["no_login_days"] = ["Between 1 and 365 days."]
    if desk is None and not is_active:
        errors["is_active"] = ["The default policy is always in force."]
    if errors:
        raise InvalidInput("Check the thresholds.", fields=errors)
    policy = RetentionPolicy.objects.select_for_update().filter(desk=desk).first()
    before = (
        None
        if policy is None
        else {
            "inactivity_days": policy.inactivity_days,
            "balance_drop_percent": policy.balance_drop_percent,
            "no_login_days": policy.no_login_days,
            "is_active": policy.is_active,
        }
    )
    after = {
        "inactivity_days": inactivity_days,
        "balance_drop_percent": balance_drop_percent,
        "no_login_days": no_login_days,
        "is_active": is_active,
    }
    if before == after:
        return policy
    policy = policy or RetentionPolicy(desk=desk)
    for field, value in after.items():
        setattr(policy, field, value)
    policy.save()
    audit_record(
        actor=actor,
        action="retention.policy_set",
        target=policy,
        reason=f"{desk.name if desk else 'Default'}: {inactivity_days} days inactive, "
        f"{balance_drop_percent}% balance drop, {no_login_days} days without sign-in",
        evidence={"desk": desk.name if desk else None, "before": before, "after": after},
    )
    return policy


# --- Selectors -----------------------------------------------------------------------------------


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
