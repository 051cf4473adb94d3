"""Clients' parts of the team dashboards (brokerage.teams): retention (flags, reactivations
and clients lost, by desk and by account manager, from `clients_rollup_retention`) and
dealing (the book's exposure per symbol from the open positions the platform last reported,
in lots and USD notional, net of clients' long and short; and the clients winning and losing
most over the period, from the traders' days, `clients_rollup_traders`)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from brokerage.leadership import display
from brokerage.rollups import Answer, Chart, Figure, Filter, Table, fetch, link_for, usd_rates
from brokerage.teams import TeamPart

from .rollups import CLIENT_LISTS, HONOURS, RETENTION, TRADERS, answer_retention

_RETENTION_COLUMNS = ["Flagged inactive", "Reactivated", "Lost", "Reactivated of flagged %"]
_RETENTION_SUMS = "sum(flagged) AS flagged, sum(reactivated) AS reactivated, sum(churned) AS lost"


def _retention_row(label: str, r: dict) -> list:
    rate = Decimal(r["reactivated"] or 0) * 100 / r["flagged"] if r["flagged"] else None
    return [label, r["flagged"], r["reactivated"], r["lost"], rate]


def answer_retention_team(flt: Filter, user) -> Answer:
    """The retention dashboard: the leadership's retention figures, then the same by desk and
    by account manager."""
    answer = answer_retention(flt, user)
    where, params = flt.where(HONOURS)
    cur_ = "day >= %(start)s"
    by_desk = fetch(
        f"SELECT r.desk_id, dk.name, {_RETENTION_SUMS} FROM {RETENTION} r "
        f"LEFT JOIN brokerage_desk dk ON dk.id = r.desk_id WHERE {where} AND {cur_} "
        "GROUP BY 1, 2 ORDER BY sum(flagged) DESC, 2 LIMIT 20",
        params,
    )
    by_agent = fetch(
        f"SELECT r.agent_id, u.first_name, u.last_name, u.email, {_RETENTION_SUMS} "
        f"FROM {RETENTION} r LEFT JOIN brokerage_user u ON u.id = r.agent_id "
        f"WHERE {where} AND {cur_} GROUP BY 1, 2, 3, 4 "
        "ORDER BY sum(reactivated) DESC, sum(flagged) DESC, 4 LIMIT 15",
        params,
    )
    queue = reverse("retention:queue")

    def desk_link(desk_id) -> str:
        return link_for(user, ("clients.work_retention", f"{queue}?desk={desk_id}"))

    answer.tables += [
        Table(
            "retention-by-desk",
            "Retention by desk",
            ["Desk", *_RETENTION_COLUMNS],
            [_retention_row(r["name"] or "No desk", r) for r in by_desk],
            [desk_link(r["desk_id"]) if r["desk_id"] else "" for r in by_desk],
            order=40,
        ),
        Table(
            "retention-by-agent",
            "Retention by account manager",
            ["Account manager", *_RETENTION_COLUMNS],
            [_retention_row(_person(r, "No account manager"), r) for r in by_agent],
            ["" for _ in by_agent],
            order=41,
            personal={"Account manager": [r["agent_id"] for r in by_agent]},
        ),
    ]
    return answer


def _person(r: dict, nobody: str) -> str:
    if r.get("email") is None:
        return nobody
    return f"{r['first_name']} {r['last_name']}".strip() or r["email"]


# --- Dealing ------------------------------------------------------------------------------------

_EXPOSURE = """
SELECT p.symbol, coalesce(i.quote_currency, '') AS quote_currency, count(*) AS positions,
       sum(p.volume) FILTER (WHERE p.action = 0) AS long_volume,
       sum(p.volume) FILTER (WHERE p.action = 1) AS short_volume,
       sum(CASE WHEN p.action = 0 THEN 1 ELSE -1 END * p.volume * i.contract_size
           * p.price_current / 10000) AS net_notional,
       sum(p.volume * i.contract_size * p.price_current / 10000) AS gross_notional,
       sum(p.profit_amount) AS floating
  FROM clients_position p
  JOIN clients_client c ON c.id = p.client_id AND c.holder = 'client'
  LEFT JOIN clients_instrument i ON i.symbol = p.symbol
 WHERE {where}
 GROUP BY 1, 2
"""

# A client's result over the period: their result summed up to the period's last day traded
# less the sum before its first (clients.models_rollups.TraderDays), from one row per client.
_PERIOD_PL = (
    "t.pl_usd[bit_count(substring(t.days FROM 1 FOR greatest(0, %(end)s - t.first_day + 1)))"
    " + 1] - t.pl_usd[bit_count(substring(t.days FROM 1 FOR greatest(0, %(start)s - t.first_day)))"
    " + 1]"
)

# The ten clients winning most and the ten losing most, each client's result read once.
_RESULTS = """
WITH pl AS (SELECT t.client_id, sum({pl}) AS pl_usd FROM {table} t WHERE {where} GROUP BY 1),
top AS ((SELECT 'winning' AS side, client_id, pl_usd FROM pl WHERE pl_usd > 0
          ORDER BY pl_usd DESC, client_id LIMIT 10)
        UNION ALL
        (SELECT 'losing', client_id, pl_usd FROM pl WHERE pl_usd < 0
          ORDER BY pl_usd, client_id LIMIT 10))
SELECT top.side, top.client_id, u.first_name, u.last_name, top.pl_usd
  FROM top
  JOIN clients_client c ON c.id = top.client_id
  JOIN brokerage_user u ON u.id = c.user_id
""".replace("{pl}", _PERIOD_PL)


def _position_where(flt: Filter) -> tuple[str, dict]:
    parts, params = ["TRUE"], {}
    if flt.desk_ids is not None:
        parts.append("c.desk_id = ANY(%(desk_ids)s)")
        params["desk_ids"] = list(flt.desk_ids)
    if flt.country:
        parts.append("c.country = %(country)s")
        params["country"] = flt.country
    return " AND ".join(parts), params


def _lots(volume) -> Decimal:
    return Decimal(volume or 0) / 10000


def answer_dealing(flt: Filter, user) -> Answer:
    """Exposure per symbol from the open positions (as they stand now), and the period's top
    winning and losing clients."""
    where, params = _position_where(flt)
    symbols = fetch(_EXPOSURE.format(where=where), params)
    rates = usd_rates([flt.end])[flt.end]
    rows = []
    for s in symbols:
        rate = rates.get(s["quote_currency"])
        usd = lambda v, r=rate: None if v is None or r is None else Decimal(v) * r  # noqa: E731
        rows.append(
            s
            | {
                "long_lots": _lots(s["long_volume"]),
                "short_lots": _lots(s["short_volume"]),
                "net_usd": usd(s["net_notional"]),
                "gross_usd": usd(s["gross_notional"]),
            }
        )
    rows.sort(key=lambda r: (-abs(r["net_usd"] or 0), r["symbol"]))
    net_total = sum((abs(r["net_usd"]) for r in rows if r["net_usd"] is not None), Decimal(0))
    gross_total = sum((r["gross_usd"] for r in rows if r["gross_usd"] is not None), Decimal(0))

    r_where, r_params = flt.where(HONOURS, {"desk": "t.desk_id", "country": "t.country"}, day=None)
    r_where += " AND t.first_day <= %(end)s"  # rows of clients who traded by the period's end
    found = fetch(_RESULTS.format(table=TRADERS, where=r_where), r_params)
    ranked = sorted(found, key=lambda r: (-abs(r["pl_usd"]), r["client_id"]))
    winners = [r for r in ranked if r["side"] == "winning"]
    losers = [r for r in ranked if r["side"] == "losing"]

    def positions_link(symbol) -> str:  # the open positions a symbol's row counts
        narrowed = {"symbol": symbol, "country": flt.country}
        if flt.desk_ids is not None and len(flt.desk_ids) == 1:
            narrowed["desk"] = flt.desk_ids[0]
        url = (
            f"{reverse('clients:positions')}?{urlencode({k: v for k, v in narrowed.items() if v})}"
        )
        return link_for(user, *((p, url) for p in CLIENT_LISTS))

    def client_link(client_id) -> str:
        url = reverse("clients:detail", args=[client_id])
        return link_for(user, *((p, url) for p in CLIENT_LISTS))

    def results(id_, title, found, order):
        return Table(
            id_,
            title,
            ["Client", "Net P/L (USD)"],
            [
                [
                    f"{r['first_name']} {r['last_name']}".strip() or f"Client {r['client_id']}",
                    r["pl_usd"].quantize(Decimal(1)),
                ]
                for r in found
            ],  # fmt: skip
            [client_link(r["client_id"]) for r in found],
            order=order,
            personal={"Client": [r["client_id"] for r in found]},
        )

    figures = [
        Figure(
            "open_positions",
            "Open positions",
            sum(r["positions"] for r in rows),
            group="exposure",
            order=60,
            hint="Clients' open positions as the platform last reported them.",
            now=True,
        ),
        Figure(
            "gross_notional_usd",
            "Gross notional",
            gross_total,
            unit="usd",
            group="exposure",
            order=61,
            hint="Every open position's lots x contract size x current price, in USD.",
            now=True,
        ),
        Figure(
            "net_notional_usd",
            "Net exposure",
            net_total,
            unit="usd",
            group="exposure",
            order=62,
            hint="Per symbol, clients' long less short notional in USD; summed as amounts.",
            now=True,
        ),
    ]
    top = rows[:10]
    chart = Chart(
        "exposure-by-symbol",
        "Clients' net notional per symbol (USD)",
        "bar",
        [r["symbol"] for r in top],
        [{"label": "Net notional (USD)", "data": [float(r["net_usd"] or 0) for r in top]}],
        order=60,
    )
    exposure = Table(
        "exposure-by-symbol",
        "Exposure per symbol",
        ["Symbol", "Net lots", "Net notional (USD)", "Long lots", "Short lots", "Positions"],
        [
            [
                r["symbol"],
                display(r["long_lots"] - r["short_lots"], "lots"),
                r["net_usd"],
                display(r["long_lots"], "lots"),
                display(r["short_lots"], "lots"),
                r["positions"],
            ]
            for r in rows
        ],
        [positions_link(r["symbol"]) for r in rows],
        order=60,
    )
    return Answer(
        figures,
        [chart],
        [
            exposure,
            results("top-winners", "Clients winning most", winners, 61),
            results("top-losers", "Clients losing most", losers, 62),
        ],
    )


RETENTION_TEAM = TeamPart("retention", answer_retention_team, HONOURS, 40)
DEALING = TeamPart("dealing", answer_dealing, HONOURS, 60)
