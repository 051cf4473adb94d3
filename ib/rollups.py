"""IB quality for the leadership figures (brokerage.rollups), kept in `ib_rollup_quality`
(ib.models_rollups.QualityDay): not only lots, but each IB's referred clients' FTDs, deposits
and net deposits, the broker's revenue from their trades, how many of them are still trading,
and the commissions the IB was paid on any tier against that revenue."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.urls import reverse

from brokerage.rollups import (
    Answer,
    Cards,
    Figure,
    Filter,
    Rollup,
    Table,
    cards_for,
    day_bits_in,
    day_conditions,
    fetch,
    fill_usd_rates,
    link_for,
    period_sums,
    replace_rows,
    select_list,
    touched_days,
)
from finance.rollups import MONEY_DAYS, MONEY_EVENTS, MONEY_TOUCHED

from .models import Partner

TABLE = "ib_rollup_quality"

_INSERT = f"""
INSERT INTO ib_rollup_quality (
  day, partner_id, ib_code, desk_id, country, currency, ftd_count, deposit_amount,
  net_amount, revenue_amount, commission_amount)
WITH ev AS (
  SELECT m.day, m.client_id, r.partner_id, m.currency, m.ftd_n AS ftd, m.dep_a AS dep,
         m.dep_a - m.wd_a - m.rf_a - m.cb_a AS net, 0 AS rev, 0 AS com
    FROM ({MONEY_EVENTS}) m JOIN ib_referral r ON r.client_id = m.client_id
  UNION ALL
  SELECT (d.time AT TIME ZONE 'UTC')::date, d.client_id, r.partner_id, a.currency, 0, 0, 0,
         -(d.commission_amount + d.swap_amount)
           - CASE WHEN t.book = 'b_book' THEN d.profit_amount ELSE 0 END, 0
    FROM clients_deal d JOIN ib_referral r ON r.client_id = d.client_id
    JOIN clients_tradingaccount a ON a.id = d.account_id
    LEFT JOIN clients_accounttype t ON t.id = a.account_type_id
   WHERE d.action IN (0, 1) AND d.removed_at IS NULL AND {{deals}}
  UNION ALL
  SELECT (l.deal_time AT TIME ZONE 'UTC')::date, l.client_id, l.partner_id, l.currency,
         0, 0, 0, 0, l.amount
    FROM ib_commissionline l
   WHERE l.status <> 'cancelled' AND {{lines}}
)
SELECT ev.day, ev.partner_id, p.referral_code, c.desk_id, c.country, ev.currency,
       sum(ftd), sum(dep), sum(net), sum(rev), sum(com)
  FROM ev JOIN clients_client c ON c.id = ev.client_id AND c.holder = 'client'
  JOIN ib_partner p ON p.id = ev.partner_id
 GROUP BY 1, 2, 3, 4, 5, 6
"""


def rebuild(days: list[date] | None) -> None:
    parts, params = day_conditions(days, **MONEY_DAYS, deals="d.time", lines="l.deal_time")
    replace_rows(TABLE, _INSERT.format(**parts), params, days)
    fill_usd_rates(TABLE)


def touched(since: datetime) -> set[date]:
    return touched_days(
        MONEY_TOUCHED
        + """UNION SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM clients_deal
              WHERE synced_at >= %(since)s
             UNION SELECT (d.time AT TIME ZONE 'UTC')::date FROM clients_dealrevision v
               JOIN clients_deal d ON d.id = v.deal_id WHERE v.detected_at >= %(since)s
             UNION SELECT DISTINCT (deal_time AT TIME ZONE 'UTC')::date FROM ib_commissionline
              WHERE created_at >= %(since)s""",
        {"since": since},
    )


HONOURS = frozenset({"desk", "country", "ib"})
_USD = {
    "deposit_usd": "deposit_amount * usd_rate",
    "net_usd": "net_amount * usd_rate",
    "revenue_usd": "revenue_amount * usd_rate",
    "commission_usd": "commission_amount * usd_rate",
}
_CARD_SUMS = {"ftd_count": "sum(ftd_count)"} | {n: f"sum({e})" for n, e in _USD.items()}
# IB quality per day and the filters it honours, in USD: per desk and country (the cards of
# every IB), per IB (the IBs' table and one IB's cards) and per desk, country and IB.
CARDS_BY_IB = Cards(
    "ib_rollup_quality_cards",
    TABLE,
    ("desk_id", "country", "ib_code", "partner_id"),
    _CARD_SUMS,
)
CARDS = Cards("ib_rollup_quality_desk_cards", TABLE, ("desk_id", "country"), _CARD_SUMS)
CARDS_IB = Cards("ib_rollup_quality_ib_cards", TABLE, ("ib_code", "partner_id"), _CARD_SUMS)
# The coarsest first: a filter's read takes the first that is split as it needs.
_CARDS = (CARDS, CARDS_IB, CARDS_BY_IB)
_SUMS = {"ftd_count": "sum(ftd_count)"} | {n: f"sum({n})" for n in _USD}


def _share(part, whole) -> Decimal | None:
    return Decimal(part or 0) * 100 / Decimal(whole) if whole and whole > 0 else None


def answer(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS)
    cur_ = "day >= %(start)s"
    t = period_sums(cards_for(_CARDS, flt, HONOURS).table, where, params, _SUMS)
    by_ib_cards = cards_for(_CARDS, flt, HONOURS, "partner_id")
    sums = select_list(_SUMS)
    traded = day_bits_in("start", "t.days", "t.first_day")
    # The IBs with the most FTDs in the period; how many of their referred clients traded in
    # it (clients' traders' days) against how many they have funded.
    by_ib = fetch(
        f"""WITH q AS (
              SELECT partner_id, {sums} FROM {by_ib_cards.table}
               WHERE {where} AND {cur_} GROUP BY partner_id
               ORDER BY sum(ftd_count) DESC, sum(deposit_usd) DESC NULLS LAST, partner_id
               LIMIT 10)
            SELECT q.*, p.company_name, u.email,
                   (SELECT count(*) FROM ib_referral r JOIN clients_client c
                       ON c.id = r.client_id AND c.first_deposit_at IS NOT NULL
                     WHERE r.partner_id = q.partner_id) AS funded,
                   (SELECT count(DISTINCT t.client_id) FROM clients_rollup_traders t
                      JOIN ib_referral r ON r.client_id = t.client_id
                     WHERE r.partner_id = q.partner_id AND {traded}) AS trading
              FROM q JOIN ib_partner p ON p.id = q.partner_id
              JOIN brokerage_user u ON u.id = p.user_id
             ORDER BY q.ftd_count DESC, q.deposit_usd DESC NULLS LAST""",
        params,
    )
    partners = reverse("ib:partners")
    figures = [
        Figure(
            "ib_commission_usd",
            "IB commissions",
            t["commission_usd"],
            t["prev_commission_usd"],
            "usd",
            link_for(user, ("ib.manage_commissions", partners)),
            "ib",
            "Commission lines on the period's deals, on every tier, not cancelled.",
            order=50,
        ),
        Figure(
            "ib_commission_share",
            "IB commissions of revenue",
            _share(t["commission_usd"], t["revenue_usd"]),
            _share(t["prev_commission_usd"], t["prev_revenue_usd"]),
            "pct",
            group="ib",
            hint="IB commissions against the broker's revenue from referred clients' trades.",
            order=51,
        ),
    ]
    table = Table(
        "ib-quality",
        "IBs by FTDs",
        [
            "IB",
            "FTDs",
            "Deposits (USD)",
            "Net deposits (USD)",
            "Revenue (USD)",
            "Commissions (USD)",
            "Commissions of revenue %",
            "Funded clients trading %",
        ],
        [
            [
                r["company_name"] or r["email"],
                r["ftd_count"],
                r["deposit_usd"],
                r["net_usd"],
                r["revenue_usd"],
                r["commission_usd"],
                _share(r["commission_usd"], r["revenue_usd"]),
                _share(r["trading"], r["funded"]),
            ]
            for r in by_ib
        ],
        [
            link_for(user, ("ib.manage_commissions", reverse("ib:partner", args=[r["partner_id"]])))
            for r in by_ib
        ],
        order=50,
        personal={"IB": [r["partner_id"] for r in by_ib]},
    )
    return Answer(figures, [], [table])


def choices() -> dict:
    """The IBs, by referral code, named as staff know them."""
    rows = Partner.objects.select_related("user").order_by("company_name", "referral_code")
    return {"ib": [(p.referral_code, f"{p} ({p.referral_code})") for p in rows]}


ROLLUP = Rollup(
    "ib_quality",
    "IB quality",
    (TABLE,),
    rebuild,
    touched,
    answer,
    HONOURS,
    50,
    choices,
    _CARDS,
)
