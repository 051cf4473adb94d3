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

from django.db import connection
from django.urls import reverse

from brokerage.rollups import (
    DAY_BITS,
    Answer,
    Cards,
    Figure,
    Filter,
    Rollup,
    Table,
    day_bits_in,
    day_chart,
    day_conditions,
    day_in,
    days_spanned,
    fetch,
    fill_usd_rates,
    link_for,
    period_sums,
    replace_rows,
    select_list,
    touched_days,
    usd_rate_relation,
)

TRADING = "clients_rollup_trading"
ACTIVITY = "clients_rollup_activity"
TRADERS = "clients_rollup_traders"
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
INSERT INTO clients_rollup_activity (
  day, client_id, desk_id, country, currency, profit_amount, usd_rate)
SELECT t.day, t.client_id, t.desk_id, t.country, t.currency, t.profit, fx.rate
  FROM (SELECT (d.time AT TIME ZONE 'UTC')::date AS day, d.client_id, c.desk_id, c.country,
               a.currency, sum(d.profit_amount) AS profit
          FROM clients_deal d
          JOIN clients_client c ON c.id = d.client_id AND c.holder = 'client'
          JOIN clients_tradingaccount a ON a.id = d.account_id
         WHERE d.action IN (0, 1) AND d.removed_at IS NULL AND {deals}
         GROUP BY 1, 2, 3, 4, 5) t
  LEFT JOIN {fx} fx ON fx.day = t.day AND fx.currency = t.currency
"""

# One row per client, desk and country: the days they traded as bits (brokerage.rollups
# DAY_BITS), and their result in USD summed up to each of those days (0 first), from their
# activity rows: a period's result is the difference of two of these sums.
_INSERT_TRADERS = """
INSERT INTO clients_rollup_traders (client_id, desk_id, country, first_day, days, pl_usd)
SELECT client_id, desk_id, country, min(first_day), {bits},
       array_prepend(0::numeric, array_agg(pl_to_day ORDER BY day))
  FROM (SELECT client_id, desk_id, country, day,
               min(day) OVER w AS first_day, max(day) OVER w AS last_day,
               sum(pl) OVER (w ORDER BY day) AS pl_to_day
          FROM (SELECT client_id, desk_id, country, day,
                       coalesce(sum(profit_amount * usd_rate), 0) AS pl
                  FROM clients_rollup_activity WHERE {clients}
                 GROUP BY 1, 2, 3, 4) d
        WINDOW w AS (PARTITION BY client_id, desk_id, country)) a
 GROUP BY 1, 2, 3
""".replace("{bits}", DAY_BITS.format(day="day", first="first_day", last="last_day"))

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
    fx, rates = usd_rate_relation(days if days is not None else _deal_days())
    if days is not None:
        _keep_activity(days)  # to tell, once they are replaced, whose rows changed
    replace_rows(ACTIVITY, _INSERT_ACTIVITY.format(deals=where, fx=fx), params | rates, days)
    fill_usd_rates(TRADING)
    fill_usd_rates(TRADING, "quote_currency", "quote_usd_rate")
    # Only the traders whose activity rows changed: on a refresh while clients trade, those
    # who traded since the last one (and everyone of the days when a day's USD rate moved),
    # not every client active on the days (tens of thousands, seconds each refresh).
    _rebuild_traders(None if days is None else _activity_changed(days))


_ACTIVITY_KEPT = "clients_rollup_activity_kept"
_ACTIVITY_COLUMNS = "day, client_id, desk_id, country, currency, profit_amount, usd_rate"


def _keep_activity(days: list[date]) -> None:
    """A copy of the activity rows of `days`, in a temporary table of this session."""
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_ACTIVITY_KEPT}")
        cur.execute(
            f"CREATE TEMPORARY TABLE {_ACTIVITY_KEPT} AS SELECT {_ACTIVITY_COLUMNS} "
            f"FROM {ACTIVITY} WHERE day = ANY(%s)",
            [list(days)],
        )


def _activity_changed(days: list[date]) -> set[int]:
    """The clients whose activity rows of `days` differ from the kept copy (new, changed or
    gone), the copy dropped."""
    now = f"SELECT {_ACTIVITY_COLUMNS} FROM {ACTIVITY} WHERE day = ANY(%(days)s)"
    kept = f"SELECT {_ACTIVITY_COLUMNS} FROM {_ACTIVITY_KEPT}"
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT client_id FROM (({now}) EXCEPT ALL ({kept})) n "
            f"UNION SELECT client_id FROM (({kept}) EXCEPT ALL ({now})) o",
            {"days": list(days)},
        )
        changed = {row[0] for row in cur.fetchall()}
        cur.execute(f"DROP TABLE {_ACTIVITY_KEPT}")
    return changed


def _deal_days() -> list[date]:
    """Every day from the first deal to the last."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (min(time) AT TIME ZONE 'UTC')::date, (max(time) AT TIME ZONE 'UTC')::date "
            "FROM clients_deal"
        )
        return days_spanned(*cur.fetchone())


def _rebuild_traders(clients: set[int] | None) -> None:
    """Rebuild the traders' days of `clients` (None: everyone) from their activity rows."""
    with connection.cursor() as cur:
        if clients is None:
            cur.execute(f"DELETE FROM {TRADERS}")
            cur.execute(_INSERT_TRADERS.format(clients="TRUE"))
        elif clients:
            ids = sorted(clients)
            cur.execute(f"DELETE FROM {TRADERS} WHERE client_id = ANY(%(ids)s)", {"ids": ids})
            cur.execute(_INSERT_TRADERS.format(clients="client_id = ANY(%(ids)s)"), {"ids": ids})


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
# The cards and the per-day chart read trading per day, desk and country, in USD.
CARDS = Cards(
    "clients_rollup_trading_cards",
    TRADING,
    ("desk_id", "country"),
    {
        "volume": "sum(volume)",
        "notional_usd": "sum(notional_amount * quote_usd_rate)",
        "commission_usd": "sum(commission_amount * usd_rate)",
        "swap_usd": "sum(swap_amount * usd_rate)",
        "client_pl_usd": "sum(profit_amount * usd_rate)",
        "bbook_pl_usd": "sum(profit_amount * usd_rate) FILTER (WHERE book = 'b_book')",
    },
)
_CARD_SUMS = {
    "lots": "sum(volume) / 10000.0",
    "notional_usd": "sum(notional_usd)",
    "commission_usd": "-sum(commission_usd)",
    "swap_usd": "-sum(swap_usd)",
    "client_pl_usd": "sum(client_pl_usd)",
    "bbook_pl_usd": "-sum(bbook_pl_usd)",
}


def _revenue(t: dict, prefix: str = "") -> Decimal:
    parts = ("commission_usd", "swap_usd", "bbook_pl_usd")
    return sum((Decimal(t[prefix + p] or 0) for p in parts), Decimal(0))


def answer_trading(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS)
    cur_ = "day >= %(start)s"
    t = period_sums(CARDS.table, where, params, _CARD_SUMS)
    t_where, t_params = flt.where(HONOURS, day=None)
    active = fetch(
        f"SELECT count(DISTINCT client_id) FILTER (WHERE {day_bits_in('start')}) AS n, "
        f"count(DISTINCT client_id) FILTER (WHERE {day_bits_in('prev_start')}) AS prev_n "
        f"FROM {TRADERS} WHERE {t_where}",
        t_params,
    )[0]
    per_day = {
        r["day"]: r
        for r in fetch(
            f"SELECT day, {select_list(_CARD_SUMS)} FROM {CARDS.table} "
            f"WHERE {where} AND {cur_} GROUP BY day",
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
    (TRADING, ACTIVITY, TRADERS),
    rebuild_trading,
    touched_trading,
    answer_trading,
    HONOURS,
    30,
    cards=(CARDS,),
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
