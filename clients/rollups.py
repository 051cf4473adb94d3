"""Clients' leadership figures (brokerage.rollups): trading and retention.

Trading (`clients_rollup_trading`, `clients_rollup_activity`): per day, desk, country, symbol
and account currency, the buy and sell deals the platform has not removed, their lots, their
notional (lots x contract size x price, in the symbol's quote currency) and the clients'
commission, swap and profit; and one row per client per day traded, so the active traders of
any range are counted exactly (distinct clients, not a sum of days). USD figures convert at
each day's rate. The broker's revenue is what its clients paid: commission and swap, and on
B-book accounts their net loss.

Retention (`clients_rollup_retention`): flags raised per day, reactivations (a flag cleared
because the client traded again) and clients lost (the outcome logged on the flag was 'not
interested' or 'wants to close the account')."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from brokerage.rollups import (
    Answer,
    Figure,
    Filter,
    Rollup,
    Table,
    day_chart,
    day_conditions,
    day_in,
    fetch,
    fill_usd_rates,
    link_for,
    period_sums,
    replace_rows,
    touched_days,
)

TRADING = "clients_rollup_trading"
ACTIVITY = "clients_rollup_activity"
RETENTION = "clients_rollup_retention"

_INSERT_TRADING = """
INSERT INTO clients_rollup_trading (
  day, desk_id, country, symbol, currency, quote_currency, book, deals, volume,
  notional_amount, commission_amount, swap_amount, profit_amount)
SELECT (d.time AT TIME ZONE 'UTC')::date, c.desk_id, c.country, d.symbol, a.currency,
       coalesce(i.quote_currency, ''), coalesce(t.book, ''), count(*), sum(d.volume),
       sum(d.volume * i.contract_size * d.price / 10000), sum(d.commission_amount),
       sum(d.swap_amount), sum(d.profit_amount)
  FROM clients_deal d
  JOIN clients_client c ON c.id = d.client_id AND c.holder = 'client'
  JOIN clients_tradingaccount a ON a.id = d.account_id
  LEFT JOIN clients_accounttype t ON t.id = a.account_type_id
  LEFT JOIN clients_instrument i ON i.symbol = d.symbol
 WHERE d.action IN (0, 1) AND d.removed_at IS NULL AND {deals}
 GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

_INSERT_ACTIVITY = """
INSERT INTO clients_rollup_activity (day, client_id, desk_id, country, currency, profit_amount)
SELECT (d.time AT TIME ZONE 'UTC')::date, d.client_id, c.desk_id, c.country, a.currency,
       sum(d.profit_amount)
  FROM clients_deal d
  JOIN clients_client c ON c.id = d.client_id AND c.holder = 'client'
  JOIN clients_tradingaccount a ON a.id = d.account_id
 WHERE d.action IN (0, 1) AND d.removed_at IS NULL AND {deals}
 GROUP BY 1, 2, 3, 4, 5
"""

_INSERT_RETENTION = """
INSERT INTO clients_rollup_retention (
  day, desk_id, agent_id, country, flagged, reactivated, churned)
SELECT ev.day, c.desk_id, c.account_manager_id, c.country, sum(ev.f), sum(ev.r), sum(ev.ch)
  FROM (
    SELECT (flagged_at AT TIME ZONE 'UTC')::date AS day, client_id, 1 AS f, 0 AS r, 0 AS ch
      FROM clients_retentionflag fl WHERE {flagged}
    UNION ALL
    SELECT (cleared_at AT TIME ZONE 'UTC')::date, client_id, 0, 1, 0
      FROM clients_retentionflag fl
     WHERE status = 'cleared' AND cleared_reason LIKE 'Traded again%%' AND {cleared}
    UNION ALL
    SELECT (last_contacted_at AT TIME ZONE 'UTC')::date, client_id, 0, 0, 1
      FROM clients_retentionflag fl
     WHERE last_outcome IN ('not_interested', 'closed_account') AND {contacted}
  ) ev
  JOIN clients_client c ON c.id = ev.client_id AND c.holder = 'client'
 GROUP BY 1, 2, 3, 4
"""


def rebuild_trading(days: list[date] | None) -> None:
    where, params = day_in("d.time", days)
    replace_rows(TRADING, _INSERT_TRADING.format(deals=where), params, days)
    replace_rows(ACTIVITY, _INSERT_ACTIVITY.format(deals=where), params, days)
    fill_usd_rates(ACTIVITY)
    fill_usd_rates(TRADING)
    fill_usd_rates(TRADING, "quote_currency", "quote_usd_rate")


def touched_trading(since: datetime) -> set[date]:
    return touched_days(
        """SELECT DISTINCT (time AT TIME ZONE 'UTC')::date AS day FROM clients_deal
            WHERE synced_at >= %(since)s
           UNION SELECT (d.time AT TIME ZONE 'UTC')::date FROM clients_dealrevision r
             JOIN clients_deal d ON d.id = r.deal_id WHERE r.detected_at >= %(since)s""",
        {"since": since},
    )


def rebuild_retention(days: list[date] | None) -> None:
    parts, params = day_conditions(
        days, flagged="fl.flagged_at", cleared="fl.cleared_at", contacted="fl.last_contacted_at"
    )
    replace_rows(RETENTION, _INSERT_RETENTION.format(**parts), params, days)


def touched_retention(since: datetime) -> set[date]:
    return touched_days(
        """SELECT (flagged_at AT TIME ZONE 'UTC')::date AS day FROM clients_retentionflag
            WHERE flagged_at >= %(since)s
           UNION SELECT (cleared_at AT TIME ZONE 'UTC')::date FROM clients_retentionflag
            WHERE cleared_at >= %(since)s
           UNION SELECT (last_contacted_at AT TIME ZONE 'UTC')::date FROM clients_retentionflag
            WHERE last_contacted_at >= %(since)s""",
        {"since": since},
    )


HONOURS = frozenset({"desk", "country"})
CLIENT_LISTS = ("clients.view_desk_clients", "clients.view_all_clients")

_TRADING_SUMS = {
    "lots": "sum(volume) / 10000.0",
    "notional_usd": "sum(notional_amount * quote_usd_rate)",
    "commission_usd": "-sum(commission_amount * usd_rate)",
    "swap_usd": "-sum(swap_amount * usd_rate)",
    "client_pl_usd": "sum(profit_amount * usd_rate)",
    "bbook_pl_usd": "-sum(profit_amount * usd_rate) FILTER (WHERE book = 'b_book')",
}


_SUMS_SQL = ", ".join(f"{expr} AS {name}" for name, expr in _TRADING_SUMS.items())


def _revenue(t: dict, prefix: str = "") -> Decimal:
    parts = ("commission_usd", "swap_usd", "bbook_pl_usd")
    return sum((Decimal(t[prefix + p] or 0) for p in parts), Decimal(0))


def answer_trading(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS)
    cur_ = "day >= %(start)s"
    t = period_sums(TRADING, where, params, _TRADING_SUMS)
    active = period_sums(ACTIVITY, where, params, {"n": "count(DISTINCT client_id)"})
    per_day = {
        r["day"]: r
        for r in fetch(
            f"SELECT day, {_SUMS_SQL} FROM {TRADING} WHERE {where} AND {cur_} GROUP BY day",
            params,
        )
    }
    by_symbol = fetch(
        f"SELECT symbol, {_SUMS_SQL} FROM {TRADING} WHERE {where} AND {cur_} "
        "GROUP BY symbol ORDER BY sum(volume) DESC LIMIT 10",
        params,
    )
    args = {"traded_from": flt.start.isoformat(), "traded_to": flt.end.isoformat()}
    if flt.desk_ids is not None and len(flt.desk_ids) == 1:
        args["desk"] = flt.desk_ids[0]
    if flt.country:
        args["country"] = flt.country
    url = f"{reverse('clients:list')}?{urlencode(args)}"

    def deals(**extra) -> str:  # the deals behind lots, notional, revenue and P/L
        query = urlencode(args | extra)
        return link_for(user, *((p, f"{reverse('clients:deals')}?{query}") for p in CLIENT_LISTS))

    figures = [
        Figure(
            "active_traders",
            "Active traders",
            active["n"],
            active["prev_n"],
            link=link_for(user, *((p, url) for p in CLIENT_LISTS)),
            group="trading",
            order=30,
            hint="Distinct clients who traded in the period.",
        ),
        Figure(
            "lots", "Lots traded", t["lots"], t["prev_lots"], "lots", deals(), "trading", order=31
        ),
        Figure(
            "notional_usd",
            "Notional volume",
            t["notional_usd"],
            t["prev_notional_usd"],
            "usd",
            deals(),
            group="trading",
            order=32,
        ),
        Figure(
            "revenue_usd",
            "Broker revenue",
            _revenue(t),
            _revenue(t, "prev_"),
            "usd",
            deals(),
            group="trading",
            order=33,
            hint="Commission and swap clients paid, and their net loss on B-book accounts.",
        ),
        Figure(
            "client_pl_usd",
            "Clients' net P/L",
            t["client_pl_usd"],
            t["prev_client_pl_usd"],
            "usd",
            deals(),
            group="trading",
            order=34,
        ),
    ]
    chart = day_chart(
        "trading-per-day",
        "Lots and broker revenue per day",
        flt,
        ("Lots", {d: r["lots"] for d, r in per_day.items()}),
        ("Broker revenue (USD)", {d: _revenue(r) for d, r in per_day.items()}),
        30,
    )
    table = Table(
        "trading-by-symbol",
        "Symbols by lots",
        ["Symbol", "Lots", "Notional (USD)", "Broker revenue (USD)", "Clients' P/L (USD)"],
        [
            [r["symbol"], r["lots"], r["notional_usd"], _revenue(r), r["client_pl_usd"]]
            for r in by_symbol
        ],
        [deals(symbol=r["symbol"]) for r in by_symbol],
        order=30,
    )
    return Answer(figures, [chart], [table])


def answer_retention(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS)
    cols = ("flagged", "reactivated", "churned")
    t = period_sums(RETENTION, where, params, {c: f"sum({c})" for c in cols})
    queue = link_for(user, ("clients.work_retention", reverse("retention:queue")))
    labels = {
        "flagged": ("Flagged inactive", "Clients the daily inactivity run flagged."),
        "reactivated": ("Reactivated", "Flags cleared because the client traded again."),
        "churned": ("Lost", "Flags whose outcome was 'not interested' or 'close the account'."),
    }
    figures = [
        Figure(
            f"retention_{c}",
            labels[c][0],
            t[c] or 0,
            t[f"prev_{c}"] or 0,
            link=queue,
            group="retention",
            hint=labels[c][1],
            order=40 + i,
        )
        for i, c in enumerate(cols)
    ]
    return Answer(figures)


TRADING_ROLLUP = Rollup(
    "trading",
    "Trading",
    (TRADING, ACTIVITY),
    rebuild_trading,
    touched_trading,
    answer_trading,
    HONOURS,
    30,
)
RETENTION_ROLLUP = Rollup(
    "retention",
    "Retention",
    (RETENTION,),
    rebuild_retention,
    touched_retention,
    answer_retention,
    HONOURS,
    40,
)
