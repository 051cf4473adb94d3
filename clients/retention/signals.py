"""Retention signals: why a funded client who went quiet is at risk, built in and contributed
by other apps.

Contract:
- Another app adds a signal by contributing `(code, label, fn)` to the `retention.signals`
  hook in its `contributions.py`; `fn(client_ids, now)` returns {client_id: detail} for the
  clients it applies to, in one query over the whole set. Built-in codes cannot be taken, nor
  one code twice (`ValueError` when the signals are read).
- `signal_labels()`: every code and label, in the order a flag lists them (inactive, losing
  streak, balance drop, the contributed ones, no login).
- `signals_for(quiet, now)`: the signals of every quiet client, each {code, label, detail}.
  Reads only: one SQL statement per signal over the candidate set, never a query per client.
  The daily run (`services.retention_flags_run`) stores what it returns on the flags.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection

from brokerage.hooks import RETENTION_SIGNALS, contributions
from brokerage.money import format_money
from clients.models import Deal, TradingAccount

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

# --- Signals other apps contribute -------------------------------------------------------------

SignalFn = Callable[[list[int], datetime], dict[int, str]]

BUILTIN_LABELS = {
    "inactive": "Inactive",
    "losing_streak": "Losing streak",
    "balance_drop": "Balance drop",
    "no_login": "No portal login",
}


def contributed_signals() -> dict[str, tuple[str, SignalFn]]:
    """{code: (label, fn)} of the signals other apps contribute, in the hook's order."""
    found: dict[str, tuple[str, SignalFn]] = {}
    for code, label, fn in contributions(RETENTION_SIGNALS):
        if code in BUILTIN_LABELS:
            raise ValueError(f"{code} is a built-in retention signal.")
        if code in found:
            raise ValueError(f"The retention signal {code} is contributed twice.")
        found[code] = (label, fn)
    return found


def signal_labels() -> dict[str, str]:
    """Every signal code and label, in the order a flag lists them."""
    labels = {k: BUILTIN_LABELS[k] for k in ("inactive", "losing_streak", "balance_drop")}
    labels.update({code: label for code, (label, _) in contributed_signals().items()})
    labels["no_login"] = BUILTIN_LABELS["no_login"]
    return labels


# --- Built-in signals, and the set's signals in one call -----------------------------------------


def _signal(code: str, detail: str, labels: dict[str, str]) -> dict:
    return {"code": code, "label": labels.get(code, code), "detail": detail}


def _money_sum(by_currency: dict[str, Decimal]) -> str:
    return " + ".join(format_money(abs(v), c) for c, v in sorted(by_currency.items()))


def day_label(value: datetime) -> str:
    """A day as signal and clearing details write it: "3 Mar 2025"."""
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


def signals_for(quiet: dict[int, tuple], now: datetime) -> dict[int, list[dict]]:
    """{client_id: [signal]} for the quiet clients, in the order `signal_labels()` lists them.
    `quiet` is {client_id: (candidate, policy, days inactive)}: the candidate gives the client's
    `last_trade_at` and `last_login`, the policy the desk's thresholds. Inactivity comes first
    on every flag; each other signal is one statement (or one contributed call) over the set."""
    ids = sorted(quiet)
    labels = signal_labels()
    signals: dict[int, list[dict]] = {}
    for client_id in ids:
        cand, policy, days = quiet[client_id]
        detail = (
            f"No trade for {days} days (threshold {policy.inactivity_days})"
            if cand.last_trade_at
            else f"Never traded since the first account opened {days} days ago "
            f"(threshold {policy.inactivity_days})"
        )
        signals[client_id] = [_signal("inactive", detail, labels)]
    found = {
        "losing_streak": _losing_streaks(ids),
        "balance_drop": _balance_drops(
            ids, now, {i: quiet[i][1].balance_drop_percent for i in ids}
        ),
    }
    for code, (_, fn) in contributed_signals().items():
        found[code] = fn(ids, now) if ids else {}
    no_login = {}
    for client_id in ids:
        cand, policy, _ = quiet[client_id]
        if cand.last_login is None:
            no_login[client_id] = "Has never signed in to the client portal"
        elif cand.last_login < now - timedelta(days=policy.no_login_days):
            ago = (now - cand.last_login).days
            no_login[client_id] = (
                f"Last portal sign-in {ago} days ago, on {day_label(cand.last_login)} "
                f"(threshold {policy.no_login_days})"
            )
    found["no_login"] = no_login
    for code in labels:
        for client_id, detail in found.get(code, {}).items():
            if client_id in signals:
                signals[client_id].append(_signal(code, detail, labels))
    return signals
