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
    Cards,
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
from brokerage.teams import TeamPart

TABLE = "leads_rollup_funnel"

_INSERT = """
INSERT INTO leads_rollup_funnel (
  day, desk_id, agent_id, country, source, campaign, ib_code, leads, registered, verified,
  ftd, trading, ftd_seconds, contacted, contacted_late)
SELECT (l.created_at AT TIME ZONE 'UTC')::date, l.desk_id, l.assigned_to_id, l.country,
       l.source, l.utm_campaign, upper(l.referral_code), count(*), count(c.id),
       count(c.kyc_verified_at), count(c.first_deposit_at), count(c.last_trade_at),
       coalesce(sum(greatest(0, extract(epoch FROM c.first_deposit_at - l.created_at)))::bigint, 0),
       count(l.first_contact_at),
       count(*) FILTER (WHERE l.first_contact_at > l.assigned_at
         + coalesce(dk.sla_minutes, %(sla_default)s) * interval '1 minute')
  FROM leads_lead l
  LEFT JOIN clients_client c ON c.id = l.client_id AND c.holder = 'client'
  LEFT JOIN brokerage_desk dk ON dk.id = l.desk_id
 WHERE {leads}
 GROUP BY 1, 2, 3, 4, 5, 6, 7
"""


def rebuild(days: list[date] | None) -> None:
    from .sla import DEFAULT_SLA_MINUTES

    where, params = day_in("l.created_at", days)
    params["sla_default"] = DEFAULT_SLA_MINUTES
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
_SALES_SUMS = _SUMS | {"contacted": "sum(contacted)", "contacted_late": "sum(contacted_late)"}
# The cards and the countries' table read the funnel per day, desk, country and IB code.
CARDS = Cards("leads_rollup_funnel_cards", TABLE, ("desk_id", "country", "ib_code"), _SALES_SUMS)
# ... and the agents' tables per day, desk, country, IB code and agent.
AGENT_CARDS = Cards(
    "leads_rollup_funnel_agent_cards",
    TABLE,
    ("desk_id", "country", "ib_code", "agent_id"),
    _SALES_SUMS,
)


def _pct(part, whole) -> Decimal | None:
    return Decimal(part or 0) * 100 / whole if whole else None


def _hours(seconds, n) -> Decimal | None:
    return (Decimal(seconds or 0) / n / 3600).quantize(Decimal("0.1")) if n else None


def answer(flt: Filter, user) -> Answer:
    where, params = flt.where(HONOURS, {"ib": "ib_code"})
    cur_ = "day >= %(start)s"
    t = period_sums(CARDS.table, where, params, _SUMS)
    sums = select_list(_SUMS)
    by_country = fetch(
        f"SELECT country, {sums} FROM {CARDS.table} WHERE {where} AND {cur_} "
        "GROUP BY country ORDER BY sum(leads) DESC, country LIMIT 15",
        params,
    )
    by_agent = _by_agent(where, params, _SUMS, 10)

    def leads_link(**extra) -> str:
        return _leads_link(flt, user, **extra)

    figure = _figure_in("funnel")
    figures = [
        *_leads_and_conversion(t, figure, leads_link(), (1, 2)),
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
        personal={"Agent": [r["agent_id"] for r in by_agent]},
    )
    return Answer(figures, [chart], [countries, agents])


def _figure_in(group: str):
    def figure(key, label, n, prev, order, unit="count", hint="", link=""):
        return Figure(key, label, n, prev, unit, link, group, hint, order)

    return figure


def _leads_and_conversion(t: dict, figure, link: str, orders: tuple[int, int]) -> list:
    """The period's leads (linked to their list) and their conversion to FTD."""
    return [
        figure("leads", "Leads", t["leads"] or 0, t["prev_leads"] or 0, orders[0], link=link),
        figure(
            "conversion",
            "Lead to FTD",
            _pct(t["ftd"], t["leads"]),
            _pct(t["prev_ftd"], t["prev_leads"]),
            orders[1],
            "pct",
            "Of the leads captured in the period, the share that made a first deposit.",
        ),
    ]


def _by_agent(where: str, params: dict, sums: dict, limit: int) -> list[dict]:
    """The period's funnel per agent, most FTDs first."""
    return fetch(
        f"SELECT f.*, u.first_name, u.last_name, u.email "
        f"FROM (SELECT agent_id, {select_list(sums)} FROM {AGENT_CARDS.table} "
        f"WHERE {where} AND day >= %(start)s GROUP BY agent_id) f "
        "LEFT JOIN brokerage_user u ON u.id = f.agent_id "
        f"ORDER BY f.ftd DESC, f.leads DESC, u.email LIMIT {int(limit)}",
        params,
    )


def _leads_link(flt: Filter, user, **extra) -> str:
    """The lead list behind a funnel figure, for those who may open one ("" for others)."""
    lists = [
        ("leads.view_all_leads", reverse("leads:all")),
        ("leads.manage_desk_leads", reverse("leads:desk_leads")),
        ("brokerage.view_leadership", reverse("leads:figures")),  # executives: read only
    ]
    args = {"created_from": flt.start.isoformat(), "created_to": flt.end.isoformat()}
    if flt.desk_ids is not None and len(flt.desk_ids) == 1:
        args["desk"] = flt.desk_ids[0]
    if flt.country:
        args["country"] = flt.country
    query = urlencode(args | extra)
    return link_for(user, *((perm, f"{url}?{query}") for perm, url in lists))


def answer_sales(flt: Filter, user) -> Answer:
    """The sales dashboard (brokerage.teams): the period's leads, how many a person contacted
    and how many late, conversion, the leads waiting for a first contact past their desk's
    SLA now, and the agents' leaderboard."""
    from .models import Lead
    from .sla import breaches

    where, params = flt.where(HONOURS, {"ib": "ib_code"})
    t = period_sums(CARDS.table, where, params, _SALES_SUMS)
    board = _by_agent(where, params, _SALES_SUMS, 15)
    waiting = Lead.objects.all()
    if flt.desk_ids is not None:
        waiting = waiting.filter(desk_id__in=flt.desk_ids)
    if flt.country:
        waiting = waiting.filter(country=flt.country)
    if flt.ib:
        waiting = waiting.filter(referral_code__iexact=flt.ib)
    desk_view = link_for(user, ("leads.manage_desk_leads", reverse("leads:desk")))
    figure = _figure_in("contact")
    leads, conversion = _leads_and_conversion(t, figure, _leads_link(flt, user), (1, 5))
    figures = [
        leads,
        figure(
            "contact_rate",
            "Contact rate",
            _pct(t["contacted"], t["leads"]),
            _pct(t["prev_contacted"], t["prev_leads"]),
            2,
            "pct",
            "Of the period's leads, the share a person called, emailed or moved on.",
        ),
        figure(
            "contacted_late",
            "First contact past SLA",
            t["contacted_late"] or 0,
            t["prev_contacted_late"] or 0,
            3,
            hint="Leads first contacted after their desk's SLA had run out since assignment.",
        ),
        figure(
            "waiting_past_sla",
            "Waiting past SLA now",
            breaches(waiting).count(),
            None,
            4,
            hint="Assigned, open leads not contacted yet and past their desk's SLA, now.",
            link=desk_view,
        ),
        conversion,
    ]
    next(f for f in figures if f.key == "waiting_past_sla").now = True  # as it stands now
    leaderboard = Table(
        "sales-leaderboard",
        "Agents' leaderboard",
        ["Agent", "Leads", "Contacted %", "Late first contacts", "FTD", "Lead to FTD %"],
        [
            [
                _person(r),
                r["leads"],
                _pct(r["contacted"], r["leads"]),
                r["contacted_late"],
                r["ftd"],
                _pct(r["ftd"], r["leads"]),
            ]
            for r in board
        ],
        [_leads_link(flt, user, agent=r["agent_id"]) if r["agent_id"] else "" for r in board],
        order=1,
        personal={"Agent": [r["agent_id"] for r in board]},
    )
    return Answer(figures, [], [leaderboard])


def _person(r) -> str:
    if r["agent_id"] is None:
        return "Unassigned"
    return f"{r['first_name']} {r['last_name']}".strip() or r["email"]


ROLLUP = Rollup(
    "funnel", "Funnel", (TABLE,), rebuild, touched, answer, HONOURS, 10, cards=(CARDS, AGENT_CARDS)
)
SALES = TeamPart("sales", answer_sales, HONOURS, 10)
