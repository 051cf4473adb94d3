"""The ten typologies as set-based SQL: each finds its hits at `as_of`, for one client (real
time) or for the whole book (nightly, backtest), with the same statement.

Contract: `find(code, params, *, as_of, client_id=None) -> list[Hit]`. A hit is a client, a
score (0-100, the typology's own scale), the window it looked at, the figures the explanation
names and the evidence rows (deposits, withdrawals, chargebacks, deals, linked clients). One
statement (or a few) per typology over the whole book, never a query per client; with
`client_id`, the same statement narrowed to that client, through the (client, ...) indexes.
Money is valued in USD in SQL through finance's FX table (a currency without a rate is left
out, as finance leaves it out of its own thresholds). Reads only.

Links between clients (third-party funding's shared instrument, mirror trading's shared payer,
IP or device) and opposite trades are `clients.links`' answers, not a copy of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection

from clients.links import clients_related_to, links_among, opposite_trades
from compliance.matching import pair_similarity
from compliance.names import name_tokens

# How far back the nightly run reads the typologies that judge single rows (a high-risk
# country's deposit, a provider switch): a night's rows, with a margin for a late run.
NIGHTLY_LOOKBACK = timedelta(hours=26)

# A deal that closes a position (out, in/out, out by): what "lots traded" counts.
CLOSING = "(1, 2, 3)"
TRADES = "(0, 1)"


@dataclass
class Hit:
    client_id: int
    score: int
    window_start: datetime
    window_end: datetime
    figures: dict
    evidence: list[dict] = field(default_factory=list)


# --- SQL pieces ---------------------------------------------------------------------------------

FX = """fx AS MATERIALIZED (
  SELECT currency, usd_rate FROM finance_fxrate WHERE currency <> 'USD'
  UNION ALL SELECT 'USD', 1
)"""


# The standard columns of a money row: client_id, id, at, usd, ref, amount, currency, psp, note.
def deposits(where: str, *, at: str = "d.completed_at", note: str = "''", joins="") -> str:
    return f"""SELECT d.client_id, d.id, {at} AS at, d.amount * fx.usd_rate AS usd,
       d.reference AS ref, d.amount, d.currency, d.psp, {note}::text AS note
  FROM finance_deposit d JOIN fx ON fx.currency = d.currency {joins}
 WHERE {where}"""


def withdrawals(where: str, *, note: str = "''", joins: str = "") -> str:
    return f"""SELECT w.client_id, w.id, w.requested_at AS at, w.amount * fx.usd_rate AS usd,
       w.reference AS ref, w.amount, w.currency, w.psp, {note}::text AS note
  FROM finance_withdrawal w JOIN fx ON fx.currency = w.currency {joins}
 WHERE {where}"""


INSTRUMENT = "JOIN finance_paymentinstrument i ON i.id = d.instrument_id"


def completed_deposits(client_id: int | None, extra: str = "", **kw) -> str:
    """Deposits completed in the window (since, as_of], as money rows."""
    return deposits(
        "d.status = 'completed' AND d.completed_at > %(since)s AND d.completed_at <= %(as_of)s "
        f"{extra} {_scope('d', client_id)}",
        **kw,
    )


def requested_withdrawals(client_id: int | None, extra: str = "", **kw) -> str:
    """Withdrawals requested in the window (since, as_of], cancelled ones left out."""
    return withdrawals(
        "w.status <> 'cancelled' AND w.requested_at > %(since)s AND w.requested_at <= %(as_of)s "
        f"{extra} {_scope('w', client_id)}",
        **kw,
    )


def _evidence(kind: str, alias: str, cte: str, client: str = "h.client_id", where: str = "") -> str:
    """A JSON array of a money CTE's rows for the hit's client (the evidence)."""
    return f"""COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'kind', {kind}, 'id', {alias}.id, 'at', {alias}.at, 'usd', round({alias}.usd, 2),
        'ref', {alias}.ref, 'amount', {alias}.amount, 'currency', {alias}.currency,
        'psp', {alias}.psp, 'note', {alias}.note) ORDER BY {alias}.at)
      FROM {cte} {alias} WHERE {alias}.client_id = {client} {where}), '[]'::jsonb)"""


def _scope(alias: str, client_id: int | None) -> str:
    return f"AND {alias}.client_id = %(client)s" if client_id is not None else ""


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _json(value):
    return json.loads(value) if isinstance(value, str) else (value or [])


def _d(value) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _params(since, as_of, client_id, **more) -> dict:
    return {"since": since, "as_of": as_of, "client": client_id, **more}


def _days(n) -> timedelta:
    return timedelta(days=int(n))


# --- 1. Deposit then withdrawal with little trading ---------------------------------------------


def quick_in_out(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    dep = completed_deposits(client_id)
    wd = requested_withdrawals(client_id)
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
dep_tot AS (
  SELECT client_id, sum(usd) AS total, min(at) AS first_at FROM dep
   GROUP BY client_id HAVING sum(usd) >= %(min_deposit)s
),
wd AS MATERIALIZED ({wd}),
wd_tot AS (
  SELECT w.client_id, sum(w.usd) AS total, max(w.at) AS last_at
    FROM wd w JOIN dep_tot t ON t.client_id = w.client_id AND w.at >= t.first_at
   GROUP BY w.client_id
),
h AS (
  SELECT t.client_id, t.total AS dep_usd, t.first_at, w.total AS wd_usd, w.last_at,
         COALESCE((SELECT sum(x.volume) FROM clients_deal x
                    WHERE x.client_id = t.client_id AND x.time BETWEEN t.first_at AND w.last_at
                      AND x.entry IN {CLOSING} AND x.action IN {TRADES}
                      AND x.removed_at IS NULL), 0) / 10000.0 AS lots
    FROM dep_tot t JOIN wd_tot w ON w.client_id = t.client_id
   WHERE w.total >= t.total * %(ratio)s
)
SELECT h.client_id, h.dep_usd, h.wd_usd, h.lots,
       {_evidence("'deposit'", "e", "dep")}
       || {_evidence("'withdrawal'", "e", "wd", where="AND e.at >= h.first_at")}
  FROM h WHERE h.lots < %(max_lots)s
"""
    params = _params(
        since,
        as_of,
        client_id,
        min_deposit=_d(p["min_deposit_usd"]),
        ratio=_d(p["withdrawal_ratio"]),
        max_lots=_d(p["max_lots"]),
    )
    return [
        Hit(
            cid,
            90 if dep_usd >= 20000 else 60,
            since,
            as_of,
            {"deposits_usd": dep_usd, "withdrawals_usd": wd_usd, "lots": lots},
            _json(evidence),
        )
        for cid, dep_usd, wd_usd, lots, evidence in _rows(sql, params)
    ]


# --- 2. Structuring ----------------------------------------------------------------------------


def structuring(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    band = "d.amount * fx.usd_rate >= %(low)s AND d.amount * fx.usd_rate < %(threshold)s"
    dep = completed_deposits(client_id, f"AND {band}")
    wd = requested_withdrawals(client_id, f"AND {band.replace('d.', 'w.')}")
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
wd AS MATERIALIZED ({wd}),
h AS (
  SELECT client_id, count(*) FILTER (WHERE k = 'd') AS n_dep,
         count(*) FILTER (WHERE k = 'w') AS n_wd
    FROM (SELECT client_id, 'd' AS k FROM dep UNION ALL SELECT client_id, 'w' FROM wd) x
   GROUP BY client_id
  HAVING count(*) FILTER (WHERE k = 'd') >= %(n)s OR count(*) FILTER (WHERE k = 'w') >= %(n)s
)
SELECT h.client_id, h.n_dep, h.n_wd,
       CASE WHEN h.n_dep >= %(n)s THEN {_evidence("'deposit'", "e", "dep")} ELSE '[]' END
       || CASE WHEN h.n_wd >= %(n)s THEN {_evidence("'withdrawal'", "e", "wd")} ELSE '[]' END
  FROM h
"""
    threshold, n = _d(p["threshold_usd"]), int(p["min_count"])
    params = _params(
        since, as_of, client_id, threshold=threshold, low=threshold * (1 - _d(p["band"])), n=n
    )
    hits = []
    for cid, n_dep, n_wd, evidence in _rows(sql, params):
        scores = [70 + 10 * (n_dep - n)] if n_dep >= n else []
        scores += [80 + 10 * (n_wd - n)] if n_wd >= n else []
        figures = {"deposits": n_dep if n_dep >= n else 0, "withdrawals": n_wd if n_wd >= n else 0}
        figures |= {"low": params["low"], "threshold": threshold}
        hits.append(Hit(cid, min(max(scores), 100), since, as_of, figures, _json(evidence)))
    return hits


# --- 3. Velocity against the client's own history ------------------------------------------------


def velocity(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    dep = completed_deposits(client_id)
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
r AS (SELECT client_id, sum(usd) AS total FROM dep GROUP BY client_id HAVING sum(usd) >= %(min)s),
h AS (
  SELECT r.client_id, r.total, hist.total AS hist_total,
         LEAST(%(history_days)s, extract(epoch FROM %(since)s - first.at) / 86400.0) AS hist_days
    FROM r
   CROSS JOIN LATERAL (
         SELECT min(d.completed_at) AS at FROM finance_deposit d
          WHERE d.client_id = r.client_id AND d.status = 'completed') first
   CROSS JOIN LATERAL (
         SELECT sum(d.amount * fx.usd_rate) AS total
           FROM finance_deposit d JOIN fx ON fx.currency = d.currency
          WHERE d.client_id = r.client_id AND d.status = 'completed'
            AND d.completed_at > %(history_from)s AND d.completed_at <= %(since)s) hist
   WHERE first.at <= %(history_needed)s AND hist.total > 0
)
SELECT h.client_id, h.total, h.hist_total, h.hist_days, {_evidence("'deposit'", "e", "dep")}
  FROM h WHERE h.total >= %(multiple)s * h.hist_total / (h.hist_days / 7.0)
"""
    history_days = int(p["history_days"])
    params = _params(
        since,
        as_of,
        client_id,
        min=_d(p["min_amount_usd"]),
        history_days=history_days,
        history_from=since - _days(history_days),
        history_needed=since - _days(p["min_history_days"]),
        multiple=_d(p["multiple"]),
    )
    hits = []
    for cid, total, hist_total, hist_days, evidence in _rows(sql, params):
        weekly = (hist_total / (_d(hist_days) / 7)).quantize(Decimal("0.01"))
        multiple = (total / weekly).quantize(Decimal("0.1")) if weekly else Decimal(0)
        figures = {"total": total, "weekly": weekly, "multiple": multiple}
        score = 80 if multiple >= 10 else 60
        hits.append(Hit(cid, score, since, as_of, figures, _json(evidence)))
    return hits


# --- 4. Third-party funding ---------------------------------------------------------------------


def name_similarity(a: str, b: str) -> float:
    """How alike two persons' names are (0-1), with compliance's normalisation and token
    matching: each token of the shorter name meets its best match in the other, over the
    longer name's length ("John A Smith" and "John Smith" 0.67; "Mary Smith" 0.5)."""
    ta, tb = name_tokens(a, "person"), name_tokens(b, "person")
    if not ta or not tb:
        return 0.0
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    found = sum(max(pair_similarity(t, o)[0] for o in long) for t in short)
    return found / len(long)


LINK_INSTRUMENT = {"instrument"}


def third_party_funding(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    dep = completed_deposits(
        client_id, note="i.holder_name || '|' || i.kind || ':' || i.label", joins=INSTRUMENT
    )
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep})
SELECT e.client_id, e.id, e.at, round(e.usd, 2), e.ref, e.amount, e.currency, e.psp, e.note,
       COALESCE(NULLIF(c.legal_name, ''), trim(u.first_name || ' ' || u.last_name))
  FROM dep e JOIN clients_client c ON c.id = e.client_id JOIN brokerage_user u ON u.id = c.user_id
"""
    params = _params(since, as_of, client_id)
    rows = _rows(sql, params)
    threshold, floor = float(_d(p["name_similarity"])), _d(p["min_amount_usd"])
    third: dict[int, list[dict]] = defaultdict(list)
    funded: dict[int, list[dict]] = defaultdict(list)
    names: dict[int, str] = {}
    for cid, pk, at, usd, ref, amount, currency, psp, note, own in rows:
        holder, _, label = (note or "").partition("|")
        row = {
            "kind": "deposit",
            "id": pk,
            "at": at.isoformat(),
            "usd": str(usd),
            "ref": ref,
            "amount": str(amount),
            "currency": currency,
            "psp": psp,
            "note": label.split(":", 1)[-1],
        }
        funded[cid].append(row)
        names[cid] = own
        if holder.strip() and usd >= floor and name_similarity(holder, own) < threshold:
            third[cid].append({**row, "note": f"Paid by {holder.strip()}"})
    shared: dict[int, set[int]] = {}
    links = clients_related_to(list(funded), codes=LINK_INSTRUMENT) if funded else {}
    for cid, others in links.items():
        sharing = {o for o in others if o in funded or client_id is not None}
        if client_id is not None:
            sharing = {o for o in others if _funded_since(o, since, as_of)}
        if len(sharing) + 1 >= int(p["shared_clients"]):
            shared[cid] = sharing
    hits = []
    for cid in sorted(set(third) | set(shared)):
        a, b = cid in third, cid in shared
        score = 90 if a and b else (70 if b else 60)
        evidence = list(third.get(cid, []))
        if b:
            evidence += [e for e in funded[cid] if e not in evidence]
            evidence += [
                _link(o, as_of, "Shares a payment instrument") for o in sorted(shared[cid])
            ]
        figures = {
            "payers": sorted({e["note"][8:] for e in third.get(cid, [])}),
            "shared_with": sorted(shared.get(cid, [])),
            "client_name": names.get(cid, ""),
        }
        hits.append(Hit(cid, score, since, as_of, figures, evidence))
    return hits


def _funded_since(client_id: int, since: datetime, as_of: datetime) -> bool:
    sql = """SELECT 1 FROM finance_deposit WHERE client_id = %s AND status = 'completed'
              AND instrument_id IS NOT NULL AND completed_at > %s AND completed_at <= %s LIMIT 1"""
    return bool(_rows(sql, [client_id, since, as_of]))


def _link(other: int, at: datetime, note: str) -> dict:
    return {"kind": "client_link", "id": other, "at": at.isoformat(), "usd": None, "note": note}


# --- 5. Deposits beyond declared income or net worth ----------------------------------------------


def _ceiling(column: str) -> str:
    from kyc.models import BAND_CEILING

    cases = " ".join(f"WHEN '{band}' THEN {value}" for band, value in BAND_CEILING.items())
    return f"(CASE {column} {cases} END)"


def beyond_declared(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    dep = completed_deposits(client_id)
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
t AS (SELECT client_id, sum(usd) AS total FROM dep GROUP BY client_id),
pr AS (
  SELECT DISTINCT ON (f.client_id) f.client_id,
         f.expected_deposits_amount * fx.usd_rate AS expected,
         {_ceiling("f.annual_income")} * fx.usd_rate AS income, f.annual_income,
         {_ceiling("f.net_worth")} * fx.usd_rate AS worth, f.net_worth
    FROM kyc_financialprofile f JOIN fx ON fx.currency = f.currency
   WHERE f.client_id IN (SELECT client_id FROM t) AND f.declared_at <= %(as_of)s
   ORDER BY f.client_id, f.version DESC
),
h AS (
  SELECT t.client_id, t.total, pr.expected, pr.income, pr.worth, pr.annual_income, pr.net_worth,
         t.total > %(worth_share)s * pr.worth AS over_worth
    FROM t JOIN pr ON pr.client_id = t.client_id
   WHERE (t.total > %(multiple)s * pr.expected AND t.total > %(income_share)s * pr.income)
      OR t.total > %(worth_share)s * pr.worth
)
SELECT h.client_id, h.total, h.expected, h.income, h.worth, h.annual_income, h.net_worth,
       h.over_worth, {_evidence("'deposit'", "e", "dep")}
  FROM h
"""
    params = _params(
        since,
        as_of,
        client_id,
        multiple=_d(p["expected_multiple"]),
        income_share=_d(p["income_share"]),
        worth_share=_d(p["net_worth_share"]),
    )
    hits = []
    for cid, total, expected, income, worth, inc_band, nw_band, over, evidence in _rows(
        sql, params
    ):
        figures = {
            "total": total,
            "expected": expected,
            "income": income,
            "worth": worth,
            "income_band": inc_band,
            "worth_band": nw_band,
            "over_worth": over,
        }
        hits.append(Hit(cid, 90 if over else 60, since, as_of, figures, _json(evidence)))
    return hits


# --- 6. Flows to or from high-risk jurisdictions -----------------------------------------------


def _high_risk(p: dict) -> list[str]:
    if p.get("countries"):
        return list(p["countries"])
    return [
        row[0]
        for row in _rows("SELECT country FROM compliance_countryrisk WHERE level = 'high'", {})
    ]


def high_risk_country(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - NIGHTLY_LOOKBACK
    countries = _high_risk(p)
    if not countries:
        return []
    dep = completed_deposits(
        client_id,
        "AND d.amount * fx.usd_rate >= %(min)s AND i.country = ANY(%(countries)s)",
        note="i.country",
        joins=INSTRUMENT,
    )
    country = "COALESCE(NULLIF(upper(left(wi.iban, 2)), ''), fi.country)"
    wd = requested_withdrawals(
        client_id,
        f"AND w.amount * fx.usd_rate >= %(min)s AND {country} = ANY(%(countries)s)",
        note=country,
        joins="LEFT JOIN finance_wireinstruction wi ON wi.withdrawal_id = w.id "
        "LEFT JOIN finance_deposit fd ON fd.id = w.funding_deposit_id "
        "LEFT JOIN finance_paymentinstrument fi ON fi.id = fd.instrument_id",
    )
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
wd AS MATERIALIZED ({wd}),
h AS (SELECT client_id, max(usd) AS top,
             array_agg(DISTINCT note) AS countries
        FROM (SELECT client_id, usd, note FROM dep UNION ALL SELECT client_id, usd, note FROM wd) x
       GROUP BY client_id)
SELECT h.client_id, h.top, h.countries,
       {_evidence("'deposit'", "e", "dep")} || {_evidence("'withdrawal'", "e", "wd")}
  FROM h
"""
    params = _params(since, as_of, client_id, min=_d(p["min_amount_usd"]), countries=countries)
    return [
        Hit(
            cid,
            80 if top >= 10000 else 60,
            since,
            as_of,
            {"top": top, "countries": sorted(c for c in found if c)},
            _json(evidence),
        )
        for cid, top, found, evidence in _rows(sql, params)
    ]


# --- 7. Switching payment providers to get around a refusal ----------------------------------


def psp_switching(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - timedelta(hours=int(p["window_hours"]))
    dep = deposits(
        "d.created_at > %(since)s AND d.created_at <= %(as_of)s " + _scope("d", client_id),
        at="d.created_at",
        note="d.status",
    )
    wd = withdrawals(
        "w.requested_at > %(since)s AND w.requested_at <= %(as_of)s "
        "AND w.status <> 'cancelled' " + _scope("w", client_id),
        note="w.status",
    )
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
a AS (
  SELECT client_id FROM dep GROUP BY client_id
  HAVING count(DISTINCT psp) >= %(psps)s
     AND count(*) FILTER (WHERE note IN ('failed', 'expired')) >= %(failed)s
     AND (array_agg(note ORDER BY at DESC))[1] = 'completed'
),
wd AS MATERIALIZED ({wd}),
b AS (
  SELECT DISTINCT r.client_id FROM wd r JOIN wd n ON n.client_id = r.client_id
   WHERE r.note = 'rejected' AND n.at > r.at AND n.psp <> r.psp
),
h AS (SELECT client_id, bool_or(k = 'a') AS by_deposits, bool_or(k = 'b') AS by_withdrawals
        FROM (SELECT client_id, 'a' AS k FROM a UNION ALL SELECT client_id, 'b' FROM b) x
       GROUP BY client_id)
SELECT h.client_id, h.by_deposits, h.by_withdrawals,
       CASE WHEN h.by_deposits THEN {_evidence("'deposit'", "e", "dep")} ELSE '[]' END
       || CASE WHEN h.by_withdrawals THEN {_evidence("'withdrawal'", "e", "wd")} ELSE '[]' END
  FROM h
"""
    params = _params(since, as_of, client_id, psps=int(p["min_psps"]), failed=int(p["min_failed"]))
    hits = []
    for cid, by_dep, by_wd, evidence in _rows(sql, params):
        evidence = _json(evidence)
        figures = {
            "by_deposits": by_dep,
            "by_withdrawals": by_wd,
            "psps": sorted({e["psp"] for e in evidence if e["kind"] == "deposit"}),
            "failed": sum(
                1 for e in evidence if e["kind"] == "deposit" and e["note"] in ("failed", "expired")
            ),
        }
        hits.append(Hit(cid, 65, since, as_of, figures, evidence))
    return hits


# --- 8. Dormant then suddenly active --------------------------------------------------------------


def dormant_reactivation(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    dep = completed_deposits(client_id)
    wd = requested_withdrawals(client_id)
    sql = f"""
WITH {FX},
dep AS MATERIALIZED ({dep}),
wd AS MATERIALIZED ({wd}),
m AS (
  SELECT client_id, COALESCE(sum(usd) FILTER (WHERE k = 'd'), 0) AS dep_usd,
         COALESCE(sum(usd) FILTER (WHERE k = 'w'), 0) AS wd_usd, min(at) AS first_at
    FROM (SELECT client_id, usd, at, 'd' AS k FROM dep
          UNION ALL SELECT client_id, usd, at, 'w' FROM wd) x
   GROUP BY client_id
  HAVING COALESCE(sum(usd) FILTER (WHERE k = 'd'), 0) >= %(min)s
      OR COALESCE(sum(usd) FILTER (WHERE k = 'w'), 0) >= %(min)s
),
h AS (
  SELECT m.*, GREATEST(
      (SELECT max(d.completed_at) FROM finance_deposit d WHERE d.client_id = m.client_id
          AND d.status = 'completed' AND d.completed_at < m.first_at),
      (SELECT max(w.completed_at) FROM finance_withdrawal w WHERE w.client_id = m.client_id
          AND w.status = 'paid' AND w.completed_at < m.first_at),
      (SELECT max(x.time) FROM clients_deal x WHERE x.client_id = m.client_id
          AND x.entry IN {CLOSING} AND x.action IN {TRADES} AND x.removed_at IS NULL
          AND x.time < m.first_at)) AS last_at,
      c.created_at
    FROM m JOIN clients_client c ON c.id = m.client_id
)
SELECT h.client_id, h.dep_usd, h.wd_usd, h.last_at,
       extract(epoch FROM h.first_at - COALESCE(h.last_at, h.created_at)) / 86400 AS idle,
       {_evidence("'deposit'", "e", "dep")} || {_evidence("'withdrawal'", "e", "wd")}
  FROM h WHERE COALESCE(h.last_at, h.created_at) <= h.first_at - %(dormant)s
"""
    params = _params(
        since, as_of, client_id, min=_d(p["min_amount_usd"]), dormant=_days(p["dormant_days"])
    )
    hits = []
    for cid, dep_usd, wd_usd, last_at, idle, evidence in _rows(sql, params):
        figures = {"deposits_usd": dep_usd, "withdrawals_usd": wd_usd, "idle_days": int(idle)}
        figures["last_at"] = last_at.isoformat() if last_at else None
        score = 85 if max(dep_usd, wd_usd) >= 50000 else 65
        hits.append(Hit(cid, score, since, as_of, figures, _json(evidence)))
    return hits


# --- 9. Mirror trading between linked clients ------------------------------------------------

MIRROR_LINKS = {"payer_name", "instrument", "registration_ip", "login_ip", "device"}


def mirror_trading(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    if client_id is not None:
        related = clients_related_to([client_id], codes=MIRROR_LINKS).get(client_id, {})
        if not related:
            return []
        candidates = [client_id, *related]
    else:
        candidates = [
            row[0]
            for row in _rows(
                "SELECT DISTINCT client_id FROM clients_deal WHERE time > %(since)s "
                "AND time <= %(as_of)s AND entry = 0 AND action IN (0, 1) "
                "AND removed_at IS NULL",
                {"since": since, "as_of": as_of},
            )
        ]
    trades = opposite_trades(
        client_ids=candidates,
        window_seconds=int(p["seconds"]),
        since=since,
        until=as_of,
    )
    by_pair: dict[tuple[int, int], list] = defaultdict(list)
    for t in trades:
        pair = tuple(sorted((t.buy_client_id, t.sell_client_id)))
        if client_id is None or client_id in pair:
            by_pair[pair].append(t)
    n = int(p["min_pairs"])
    by_pair = {pair: ts for pair, ts in by_pair.items() if len(ts) >= n}
    if not by_pair:
        return []
    members = sorted({c for pair in by_pair for c in pair})
    links = links_among(members, codes=MIRROR_LINKS)
    hits: dict[int, Hit] = {}
    for (a, b), ts in by_pair.items():
        reasons = links.get(a, {}).get(b)
        if not reasons:
            continue
        label = "; ".join(sorted({r.label for r in reasons}))
        for me, other in ((a, b), (b, a)):
            if client_id is not None and me != client_id:
                continue
            hit = hits.setdefault(
                me,
                Hit(me, 0, since, as_of, {"pairs": 0, "with": [], "symbols": []}, []),
            )
            hit.figures["pairs"] += len(ts)
            hit.figures["with"].append(other)
            hit.figures["symbols"] = sorted(set(hit.figures["symbols"]) | {t.symbol for t in ts})
            hit.evidence.append(_link(other, as_of, label))
            for t in ts:
                mine = t.buy_deal_id if t.buy_client_id == me else t.sell_deal_id
                side = "buy" if t.buy_client_id == me else "sell"
                hit.evidence.append(
                    {
                        "kind": "deal",
                        "id": mine,
                        "at": (t.buy_time if side == "buy" else t.sell_time).isoformat(),
                        "usd": None,
                        "note": f"{side} {t.symbol}, opposite deal of client {other} "
                        f"{t.seconds_apart:.0f} s apart",
                    }
                )
    for hit in hits.values():
        hit.score = min(100, 70 + 5 * (hit.figures["pairs"] - n))
    return list(hits.values())


# --- 10. Chargeback ratio -----------------------------------------------------------------------


def chargeback_ratio(p: dict, *, as_of: datetime, client_id: int | None) -> list[Hit]:
    since = as_of - _days(p["window_days"])
    sql = f"""
WITH {FX},
cb AS MATERIALIZED (
  SELECT d.client_id, c.id, c.opened_at AS at, c.amount * fx.usd_rate AS usd, d.reference AS ref,
         c.amount, c.currency, d.psp, c.reason::text AS note
    FROM finance_chargeback c JOIN finance_deposit d ON d.id = c.deposit_id
    JOIN fx ON fx.currency = c.currency
   WHERE c.opened_at > %(since)s AND c.opened_at <= %(as_of)s {_scope("d", client_id)}
),
n AS (SELECT client_id, count(*) AS n FROM cb GROUP BY client_id HAVING count(*) >= %(min)s),
h AS (
  SELECT n.client_id, n.n,
         (SELECT count(*) FROM finance_deposit d WHERE d.client_id = n.client_id
             AND d.status = 'completed' AND d.completed_at > %(since)s
             AND d.completed_at <= %(as_of)s) AS deposits
    FROM n
)
SELECT h.client_id, h.n, h.deposits, {_evidence("'chargeback'", "e", "cb")}
  FROM h WHERE h.n >= %(ratio)s * GREATEST(h.deposits, 1)
"""
    params = _params(since, as_of, client_id, min=int(p["min_chargebacks"]), ratio=_d(p["ratio"]))
    hits = []
    for cid, n, deps, evidence in _rows(sql, params):
        ratio = (Decimal(n) / Decimal(max(deps, 1))).quantize(Decimal("0.01"))
        figures = {"chargebacks": n, "deposits": deps, "ratio": ratio}
        hits.append(
            Hit(cid, 80 if ratio >= Decimal("0.5") else 60, since, as_of, figures, _json(evidence))
        )
    return hits


FINDERS = {
    "quick_in_out": quick_in_out,
    "structuring": structuring,
    "velocity": velocity,
    "third_party_funding": third_party_funding,
    "beyond_declared": beyond_declared,
    "high_risk_country": high_risk_country,
    "psp_switching": psp_switching,
    "dormant_reactivation": dormant_reactivation,
    "mirror_trading": mirror_trading,
    "chargeback_ratio": chargeback_ratio,
}


def find(code: str, params: dict, *, as_of: datetime, client_id: int | None = None) -> list[Hit]:
    return FINDERS[code](params, as_of=as_of, client_id=client_id)
