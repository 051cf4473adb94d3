"""Finance's leadership figures (brokerage.rollups): FTDs, deposits, withdrawals, refunds,
chargebacks and net deposits per day, desk, PSP, country and currency, in the currency and in
USD at the day's rate, kept in `finance_rollup_money` (finance.models_rollups.MoneyDay).

Net deposits are deposits less withdrawals paid, refunds and chargebacks not won. A client's
desk and country are read when the day is rolled up: the nightly rebuild follows a client who
moved desk."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from django.urls import reverse

from brokerage.rollups import (
    Answer,
    Cards,
    Figure,
    Filter,
    Rollup,
    Table,
    day_chart,
    day_conditions,
    fetch,
    fill_usd_rates,
    link_for,
    period_sums,
    replace_rows,
    select_list,
    touched_days,
)

from .psp import PSP_CHOICES, PSP_NAMES

TABLE = "finance_rollup_money"
VIEW = "finance.view_finance"
LEADS = "brokerage.view_leadership"  # the read-only money lists (finance.views_figures)
# The client list scopes itself: a desk's clients, or all of them.
CLIENTS = ("clients.view_desk_clients", "clients.view_all_clients")

# Every money event of a client, one row each, in its day and currency: counts and amounts
# of FTDs, deposits, withdrawals paid, refunds and chargebacks not won (ib.rollups reads it
# too). Fill {deposits}, {withdrawals}, {refunds} and {chargebacks} with `MONEY_DAYS`'s
# conditions.
MONEY_EVENTS = """
  SELECT (d.completed_at AT TIME ZONE 'UTC')::date AS day, d.client_id, d.psp, d.currency,
         CASE WHEN d.is_ftd THEN 1 ELSE 0 END AS ftd_n,
         CASE WHEN d.is_ftd THEN d.amount ELSE 0 END AS ftd_a,
         1 AS dep_n, d.amount AS dep_a, 0 AS wd_n, 0 AS wd_a, 0 AS rf_n, 0 AS rf_a,
         0 AS cb_n, 0 AS cb_a
    FROM finance_deposit d WHERE d.status = 'completed' AND {deposits}
  UNION ALL
  SELECT (w.completed_at AT TIME ZONE 'UTC')::date, w.client_id, w.psp, w.currency,
         0, 0, 0, 0, 1, w.amount, 0, 0, 0, 0
    FROM finance_withdrawal w WHERE w.status = 'paid' AND {withdrawals}
  UNION ALL
  SELECT (r.completed_at AT TIME ZONE 'UTC')::date, d.client_id, d.psp, r.currency,
         0, 0, 0, 0, 0, 0, 1, r.amount, 0, 0
    FROM finance_refund r JOIN finance_deposit d ON d.id = r.deposit_id
   WHERE r.status = 'succeeded' AND {refunds}
  UNION ALL
  SELECT (c.opened_at AT TIME ZONE 'UTC')::date, d.client_id, d.psp, c.currency,
         0, 0, 0, 0, 0, 0, 0, 0, 1, c.amount
    FROM finance_chargeback c JOIN finance_deposit d ON d.id = c.deposit_id
   WHERE c.status <> 'won' AND {chargebacks}
"""
MONEY_DAYS = {
    "deposits": "d.completed_at",
    "withdrawals": "w.completed_at",
    "refunds": "r.completed_at",
    "chargebacks": "c.opened_at",
}
# The days whose money events changed since %(since)s.
MONEY_TOUCHED = """
  SELECT (completed_at AT TIME ZONE 'UTC')::date AS day FROM finance_deposit
   WHERE completed_at >= %(since)s
  UNION SELECT (completed_at AT TIME ZONE 'UTC')::date FROM finance_withdrawal
   WHERE completed_at >= %(since)s OR decided_at >= %(since)s
  UNION SELECT (completed_at AT TIME ZONE 'UTC')::date FROM finance_refund
   WHERE completed_at >= %(since)s
  UNION SELECT (opened_at AT TIME ZONE 'UTC')::date FROM finance_chargeback
   WHERE opened_at >= %(since)s OR closed_at >= %(since)s
"""

_INSERT = f"""
INSERT INTO finance_rollup_money (
  day, desk_id, psp, country, currency, usd_rate, ftd_count, ftd_amount, deposit_count,
  deposit_amount, withdrawal_count, withdrawal_amount, refund_count, refund_amount,
  chargeback_count, chargeback_amount)
SELECT ev.day, cl.desk_id, ev.psp, cl.country, ev.currency, NULL,
       sum(ftd_n), sum(ftd_a), sum(dep_n), sum(dep_a), sum(wd_n), sum(wd_a),
       sum(rf_n), sum(rf_a), sum(cb_n), sum(cb_a)
  FROM ({MONEY_EVENTS}) ev
  JOIN clients_client cl ON cl.id = ev.client_id AND cl.holder = 'client'
 GROUP BY ev.day, cl.desk_id, ev.psp, cl.country, ev.currency
"""


def rebuild(days: list[date] | None) -> None:
    parts, params = day_conditions(days, **MONEY_DAYS)
    replace_rows(TABLE, _INSERT.format(**parts), params, days)
    fill_usd_rates(TABLE)


def touched(since: datetime) -> set[date]:
    return touched_days(MONEY_TOUCHED, {"since": since})


HONOURS = frozenset({"desk", "country", "psp"})
_COUNTS = ["ftd_count", "deposit_count", "withdrawal_count", "chargeback_count"]
_USD = {
    "ftd_usd": "ftd_amount * usd_rate",
    "deposit_usd": "deposit_amount * usd_rate",
    "withdrawal_usd": "withdrawal_amount * usd_rate",
    "refund_usd": "refund_amount * usd_rate",
    "chargeback_usd": "chargeback_amount * usd_rate",
    "net_usd": "(deposit_amount - withdrawal_amount - refund_amount - chargeback_amount) "
    "* usd_rate",
}
# The cards, the chart and the PSP table read the money per day, desk, country and PSP in USD.
CARDS = Cards(
    "finance_rollup_money_cards",
    TABLE,
    ("desk_id", "country", "psp"),
    {c: f"sum({c})" for c in _COUNTS} | {name: f"sum({expr})" for name, expr in _USD.items()},
)
_SUMS = {c: f"sum({c})" for c in [*_COUNTS, *_USD]}


def drill_query(flt: Filter, dates: tuple[str, str] = ("start", "end"), **extra) -> str:
    """The query string of a list behind a money figure: the filter's days (as `dates`),
    desk, country and PSP, and `extra`."""
    args = {dates[0]: flt.start.isoformat(), dates[1]: flt.end.isoformat()}
    if flt.desk_ids is not None and len(flt.desk_ids) == 1:
        args["desk"] = flt.desk_ids[0]
    for name in ("country", "psp"):
        if getattr(flt, name):
            args[name] = getattr(flt, name)
    return urlencode(args | extra)


def answer(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS)
    cur_ = "day >= %(start)s"
    totals = period_sums(CARDS.table, where, params, _SUMS)
    per_day = {
        r["day"]: r
        for r in fetch(
            "SELECT day, sum(ftd_count) AS ftd, sum(deposit_usd) AS deposits, "
            f"sum(net_usd) AS net FROM {CARDS.table} WHERE {where} AND {cur_} GROUP BY day",
            params,
        )
    }
    sums = select_list(_SUMS)
    by_psp = fetch(
        f"SELECT psp, {sums} FROM {CARDS.table} WHERE {where} AND {cur_} "
        "GROUP BY psp ORDER BY deposit_usd DESC NULLS LAST",
        params,
    )
    clients = reverse("clients:list")
    deposits = reverse("finance:deposits")
    withdrawals = reverse("finance:withdrawals")

    behind = reverse("finance:figures")

    def money(url: str, **narrowed) -> str:
        """Finance's own list for finance; the read-only list of the same records for those
        who lead (finance.views_figures)."""
        return link_for(user, (VIEW, url), (LEADS, f"{behind}?{drill_query(flt, **narrowed)}"))

    figures = [
        Figure(
            "ftds",
            "FTDs",
            totals["ftd_count"] or 0,
            totals["prev_ftd_count"] or 0,
            link=link_for(user, *((p, f"{clients}?{drill_query(flt, ftd='1')}") for p in CLIENTS)),
            group="money",
            order=10,
            hint="First-time deposits completed in the period.",
        ),
        Figure(
            "ftd_usd",
            "FTD amount",
            totals["ftd_usd"],
            totals["prev_ftd_usd"],
            "usd",
            money(f"{deposits}?{drill_query(flt, status='completed', ftd='1')}", ftd="1"),
            "money",
            order=11,
        ),
        Figure(
            "deposits_usd",
            "Deposits",
            totals["deposit_usd"],
            totals["prev_deposit_usd"],
            "usd",
            money(f"{deposits}?{drill_query(flt, status='completed')}"),
            "money",
            order=12,
        ),
        Figure(
            "withdrawals_usd",
            "Withdrawals paid",
            totals["withdrawal_usd"],
            totals["prev_withdrawal_usd"],
            "usd",
            money(f"{withdrawals}?{drill_query(flt, status='paid')}", kind="withdrawals"),
            "money",
            order=13,
        ),
        Figure(
            "refunds_chargebacks_usd",
            "Refunds and chargebacks",
            (totals["refund_usd"] or 0) + (totals["chargeback_usd"] or 0),
            (totals["prev_refund_usd"] or 0) + (totals["prev_chargeback_usd"] or 0),
            "usd",
            money(reverse("finance:chargebacks"), kind="refunds"),
            "money",
            order=14,
        ),
        Figure(
            "net_deposits_usd",
            "Net deposits",
            totals["net_usd"],
            totals["prev_net_usd"],
            "usd",
            money(f"{deposits}?{drill_query(flt, status='completed')}"),
            "money",
            order=15,
            hint="Deposits less withdrawals paid, refunds and chargebacks not won.",
        ),
    ]
    chart = day_chart(
        "money-per-day",
        "FTDs and net deposits per day",
        flt,
        ("Net deposits (USD)", {d: r["net"] for d, r in per_day.items()}),
        ("FTDs", {d: r["ftd"] for d, r in per_day.items()}),
        10,
    )
    table = Table(
        "money-by-psp",
        "Money by PSP",
        ["PSP", "FTDs", "Deposits (USD)", "Withdrawals (USD)", "Chargebacks", "Net (USD)"],
        [
            [
                PSP_NAMES.get(r["psp"], r["psp"]),
                r["ftd_count"],
                r["deposit_usd"],
                r["withdrawal_usd"],
                r["chargeback_count"],
                r["net_usd"],
            ]
            for r in by_psp
        ],
        [
            money(f"{deposits}?{drill_query(flt, status='completed', psp=r['psp'])}", psp=r["psp"])
            for r in by_psp
        ],
        order=20,
    )
    return Answer(figures, [chart], [table])


def choices() -> dict:
    return {"psp": list(PSP_CHOICES)}


ROLLUP = Rollup(
    "money", "Money", (TABLE,), rebuild, touched, answer, HONOURS, 20, choices, (CARDS,)
)
