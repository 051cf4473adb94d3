"""The funnel's leadership figures (brokerage.rollups), kept in `leads_rollup_funnel`
(leads.models.FunnelDay): for the leads captured on each day, per desk, agent, country,
source, campaign and IB referral code, how many registered, were verified (KYC), made their
first deposit (FTD) and traded, and the time from capture to FTD.

A cohort's figures grow as its leads convert: a lead captured on the 1st that deposits on the
9th counts among the 1st's FTDs, so a refresh rebuilds the days of the leads whose client
registered, was verified, deposited or traded since the watermark."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from brokerage.intl import country_name
from brokerage.rollups import (
    Answer,
    Chart,
    Figure,
    Filter,
    Rollup,
    Table,
    day_in,
    fetch,
    link_for,
    period_sums,
    replace_rows,
    select_list,
    touched_days,
)

TABLE = "leads_rollup_funnel"

_INSERT = """
INSERT INTO leads_rollup_funnel (
  day, desk_id, agent_id, country, source, campaign, ib_code, leads, registered, verified,
  ftd, trading, ftd_seconds)
SELECT (l.created_at AT TIME ZONE 'UTC')::date, l.desk_id, l.assigned_to_id, l.country,
       l.source, l.utm_campaign, upper(l.referral_code), count(*), count(c.id),
       count(c.kyc_verified_at), count(c.first_deposit_at), count(c.last_trade_at),
       coalesce(sum(greatest(0, extract(epoch FROM c.first_deposit_at - l.created_at)))::bigint, 0)
  FROM leads_lead l
  LEFT JOIN clients_client c ON c.id = l.client_id AND c.holder = 'client'
 WHERE {leads}
 GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def rebuild(days: list[date] | None) -> None:
    where, params = day_in("l.created_at", days)
    replace_rows(TABLE, _INSERT.format(leads=where), params, days)


def touched(since: datetime) -> set[date]:
    return touched_days(
        """SELECT DISTINCT (l.created_at AT TIME ZONE 'UTC')::date AS day
             FROM leads_lead l LEFT JOIN clients_client c ON c.id = l.client_id
            WHERE l.updated_at >= %(since)s OR c.created_at >= %(since)s
               OR c.kyc_verified_at >= %(since)s OR c.first_deposit_at >= %(since)s
               OR c.last_trade_at >= %(since)s""",
        {"since": since},
    )


HONOURS = frozenset({"desk", "country", "ib"})
_SUMS = {c: f"sum({c})" for c in ["leads", "registered", "verified", "ftd", "trading"]}
_SUMS["ftd_seconds"] = "sum(ftd_seconds)"


def _pct(part, whole) -> Decimal | None:
    return Decimal(part or 0) * 100 / whole if whole else None


def _hours(seconds, n) -> Decimal | None:
    return (Decimal(seconds or 0) / n / 3600).quantize(Decimal("0.1")) if n else None


def answer(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS, {"ib": "ib_code"})
    cur_ = "day >= %(start)s"
    t = period_sums(TABLE, where, params, _SUMS)
    sums = select_list(_SUMS)
    by_country = fetch(
        f"SELECT country, {sums} FROM {TABLE} WHERE {where} AND {cur_} "
        "GROUP BY country ORDER BY sum(leads) DESC, country LIMIT 15",
        params,
    )
    by_agent = fetch(
        f"SELECT f.agent_id, u.first_name, u.last_name, u.email, {sums} "
        f"FROM {TABLE} f LEFT JOIN brokerage_user u ON u.id = f.agent_id "
        f"WHERE {where} AND {cur_} GROUP BY 1, 2, 3, 4 "
        "ORDER BY sum(ftd) DESC, sum(leads) DESC LIMIT 10",
        params,
    )
    lists = [
        ("leads.view_all_leads", reverse("leads:all")),
        ("leads.manage_desk_leads", reverse("leads:desk_leads")),
    ]

    def leads_link(**extra) -> str:
        args = {"created_from": flt.start.isoformat(), "created_to": flt.end.isoformat()}
        if flt.desk_ids is not None and len(flt.desk_ids) == 1:
            args["desk"] = flt.desk_ids[0]
        if flt.country:
            args["country"] = flt.country
        query = urlencode(args | extra)
        return link_for(user, *((perm, f"{url}?{query}") for perm, url in lists))

    def figure(key, label, n, prev, order, unit="count", hint="", link=""):
        return Figure(key, label, n, prev, unit, link, "funnel", hint, order)

    figures = [
        figure("leads", "Leads", t["leads"] or 0, t["prev_leads"] or 0, 1, link=leads_link()),
        figure(
            "conversion",
            "Lead to FTD",
            _pct(t["ftd"], t["leads"]),
            _pct(t["prev_ftd"], t["prev_leads"]),
            2,
            "pct",
            "Of the leads captured in the period, the share that made a first deposit.",
        ),
        figure(
            "time_to_ftd",
            "Time to FTD",
            _hours(t["ftd_seconds"], t["ftd"]),
            _hours(t["prev_ftd_seconds"], t["prev_ftd"]),
            3,
            "hours",
            "From a lead's capture to its first deposit, on average.",
        ),
    ]
    stages = ["leads", "registered", "verified", "ftd", "trading"]
    labels = ["Leads", "Registered", "Verified", "FTD", "Trading"]
    chart = Chart(
        "funnel",
        "Funnel of the period's leads",
        "bar",
        labels,
        [
            {"label": "This period", "data": [int(t[s] or 0) for s in stages]},
            {"label": "Previous period", "data": [int(t[f"prev_{s}"] or 0) for s in stages]},
        ],
        order=1,
    )

    def row(r):
        return [r["leads"], r["registered"], r["verified"], r["ftd"], _pct(r["ftd"], r["leads"])]

    columns = ["Leads", "Registered", "Verified", "FTD", "Lead to FTD %"]
    countries = Table(
        "funnel-by-country",
        "Funnel by country",
        ["Country", *columns],
        [[country_name(r["country"]) or "Unknown", *row(r)] for r in by_country],
        [leads_link(country=r["country"]) if r["country"] else "" for r in by_country],
        order=2,
    )
    agents = Table(
        "funnel-by-agent",
        "Agents by FTDs",
        ["Agent", *columns],
        [[_person(r), *row(r)] for r in by_agent],
        [leads_link(agent=r["agent_id"]) if r["agent_id"] else "" for r in by_agent],
        order=3,
    )
    return Answer(figures, [chart], [countries, agents])


def _person(r) -> str:
    if r["agent_id"] is None:
        return "Unassigned"
    return f"{r['first_name']} {r['last_name']}".strip() or r["email"]


ROLLUP = Rollup("funnel", "Funnel", (TABLE,), rebuild, touched, answer, HONOURS, 10)
