"""Links between clients: who is related to whom, why, and the trades they mirror.

IB commission fraud (self-referral, related clients, opposite trades inside one partner's
network) and AML monitoring ask the same questions; they are answered here, once.

Contract:
- Two clients are linked by each piece of evidence they share, a `Reason` with a stable code,
  a label staff read ("Same card •••• 4242") and its evidence:
  `phone` (the E.164 number on the record), `device` (the device cookie, `clients.access`),
  `registration_ip` / `login_ip` (sign-ups, or any sign-ins, from one IP address at most
  CLIENT_LINKS_IP_WINDOW_DAYS apart, never from a `SharedNetwork`), and what the apps above
  contribute to the `client.links` hook as `LinkSource`s: finance the payment instrument
  (`instrument`) and the payer's name on deposits (`payer_name`), kyc the name and date of
  birth on the identity document (`name_dob`).
- A `LinkSource` is a queryset of rows `link_client`, `link_key`, `link_detail`: clients whose
  rows share a key are linked, and `describe(detail)` is the reason's label. clients never
  imports the apps that contribute them.
- `clients_related_to(ids)`: each given client's linked clients, anywhere in the book;
  `links_among(ids)`: the links between the given clients only. Either costs two queries
  (every source's keys in one, the IP addresses in the other), whatever the number of sources
  and clients (the commission engine asks for thousands at once). A source's statement is
  compiled once per process: its queryset is fixed, the given ids its only variable part.
  `client_links(client)` is the one client's view, clients loaded.
- `opposite_trades(account_ids= | client_ids=, window_seconds=10)`: opening deals on one
  symbol, one a buy and one a sell, at most `window_seconds` apart, on accounts of different
  clients of the set, in one query (a self-join over the opening deals' (symbol, time) index).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, F, Func, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, Trim

from brokerage.hooks import CLIENT_LINK_SOURCES, contributions

from .models import Client, Deal
from .models_access import AccessRecord, SharedNetwork

Links = dict[int, dict[int, list["Reason"]]]


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    evidence: dict = field(default_factory=dict, compare=False, hash=False)
    order: int = field(default=100, compare=False)


@dataclass(frozen=True)
class LinkSource:
    """A kind of evidence, contributed to `client.links` (see the module's contract)."""

    code: str
    rows: Callable[[], QuerySet]
    describe: Callable[[object], str]
    order: int = 100


@dataclass
class LinkedClient:
    client: Client
    reasons: list[Reason]


def name_key(expression) -> Func:
    """A person's name as a link key, in SQL: lower case, spaces collapsed and trimmed."""
    spaced = Func(
        expression,
        Value(r"\s+"),
        Value(" "),
        Value("g"),
        function="REGEXP_REPLACE",
        output_field=CharField(),
    )
    return Lower(Trim(spaced))


# --- clients' own sources (contributed in clients.contributions) ---------------------------


def _phone_rows() -> QuerySet:
    return Client.objects.exclude(phone="").annotate(
        link_client=F("pk"), link_key=F("phone"), link_detail=F("phone")
    )


def _device_rows() -> QuerySet:
    return (
        AccessRecord.objects.filter(client__isnull=False)
        .exclude(device_id="")
        .annotate(link_client=F("client_id"), link_key=F("device_id"), link_detail=Value(""))
    )


PHONE = LinkSource("phone", _phone_rows, lambda phone: "Same phone", order=10)
DEVICE = LinkSource("device", _device_rows, lambda _: "Same device", order=20)
IP_ORDER = 30


# --- the questions ---------------------------------------------------------------------------


def clients_related_to(
    client_ids: Iterable[int],
    *,
    ip_window: timedelta | None = None,
    codes: set[str] | None = None,
) -> Links:
    """{given client id: {linked client id: [Reason, ...]}} for every linked client; with
    `codes`, only those kinds of evidence (the other sources are not read)."""
    return _links(_ids(client_ids), among=False, ip_window=ip_window, codes=codes)


def links_among(
    client_ids: Iterable[int],
    *,
    ip_window: timedelta | None = None,
    codes: set[str] | None = None,
) -> Links:
    """The same, between the given clients only (both ways: a's entry for b and b's for a)."""
    return _links(_ids(client_ids), among=True, ip_window=ip_window, codes=codes)


def client_links(client: Client, *, ip_window: timedelta | None = None) -> list[LinkedClient]:
    """The clients linked to `client`, each with why, the most reasons first."""
    found = clients_related_to([client.pk], ip_window=ip_window).get(client.pk, {})
    others = Client.objects.select_related("user", "desk").in_bulk(list(found))
    linked = [LinkedClient(others[pk], reasons) for pk, reasons in found.items() if pk in others]
    return sorted(linked, key=lambda link: (-len(link.reasons), link.client.pk))


def _ids(client_ids: Iterable[int]) -> list[int]:
    return sorted({int(pk) for pk in client_ids})


def _links(
    ids: list[int], *, among: bool, ip_window: timedelta | None, codes: set[str] | None = None
) -> Links:
    if not ids:
        return {}
    found: dict[int, dict[int, dict[tuple[str, str], Reason]]] = defaultdict(dict)

    def add(a: int, b: int, reason: Reason) -> None:
        found[a].setdefault(b, {}).setdefault((reason.code, reason.label), reason)

    sources = tuple(
        source
        for source in contributions(CLIENT_LINK_SOURCES)
        if codes is None or source.code in codes
    )
    for a, b, reason in _shared_keys(sources, ids, among=among):
        add(a, b, reason)
    if codes is None or codes & {"registration_ip", "login_ip"}:
        for a, b, reason in _shared_addresses(ids, among=among, window=ip_window):
            if codes is None or reason.code in codes:
                add(a, b, reason)
    return {
        a: {b: sorted(reasons.values(), key=lambda r: r.order) for b, reasons in others.items()}
        for a, others in found.items()
    }


# Each (sources, among) compiled once per process: the statement of every source's shared keys
# as one UNION ALL, and which of its parameters are the given ids (the rest are constants).
_SHARED_KEYS_SQL: dict[tuple[tuple[LinkSource, ...], bool], tuple[str, list]] = {}
_IDS = object()  # where the given ids go among a compiled statement's parameters


def _shared_keys_sql(sources: tuple[LinkSource, ...], among: bool) -> tuple[str, list]:
    """The one statement (source index, client, key, detail as JSON text) for `sources`: for
    each, the rows whose key one of the given clients also has (among the given clients only
    with `among`), each (client, key, detail) once."""
    cached = _SHARED_KEYS_SQL.get((sources, among))
    if cached is not None:
        return cached
    parts, params = [], []
    for index, source in enumerate(sources):
        placeholder: list[int] = []  # stands for the ids while the source's query compiles
        given = RawSQL("SELECT unnest(%s::bigint[])", (placeholder,))
        rows = source.rows().order_by()
        theirs = rows.filter(link_client__in=given).values("link_key")
        matches = rows.filter(link_key__in=theirs)
        if among:
            matches = matches.filter(link_client__in=given)
        columns = matches.values_list("link_client", "link_key", "link_detail").distinct()
        sql, part_params = columns.query.sql_with_params()
        # the ORM's own statement, its parameters apart
        select = "SELECT %d, q.c::bigint, q.k::text, to_jsonb(q.d)::text FROM (%s) AS q(c, k, d)"
        parts.append(select % (index, sql))
        params.extend(_IDS if p is placeholder else p for p in part_params)
    cached = (" UNION ALL ".join(parts), params)
    _SHARED_KEYS_SQL[(sources, among)] = cached
    return cached


def _shared_keys(sources: tuple[LinkSource, ...], ids: list[int], *, among: bool):
    """(given client, other client, reason) for the keys the given clients share with others,
    by every source: one query, whatever the number of sources and clients."""
    if not sources:
        return
    sql, params = _shared_keys_sql(sources, among)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ids if p is _IDS else p for p in params])
        rows = cursor.fetchall()
    by_key: dict[tuple[int, str], dict[int, object]] = defaultdict(dict)
    for index, client_id, key, detail in rows:
        by_key[(index, key)].setdefault(client_id, json.loads(detail))
    given = set(ids)
    for (index, _), holders in by_key.items():
        if len(holders) < 2:
            continue
        source = sources[index]
        for a, detail in holders.items():
            if a not in given:
                continue
            reason = Reason(
                source.code, source.describe(detail), {"detail": detail}, order=source.order
            )
            for b in holders:
                if b != a:
                    yield a, b, reason


ADDRESSES_SQL = """
WITH ids AS MATERIALIZED (SELECT DISTINCT unnest(%(ids)s::bigint[]) AS id)
SELECT a.client_id, b.client_id, host(a.ip),
       min(abs(extract(epoch FROM b.at - a.at))) FILTER (WHERE {signups}),
       min(abs(extract(epoch FROM b.at - a.at))) FILTER (WHERE NOT ({signups}))
FROM {access} a
JOIN ids ON a.client_id = ids.id
JOIN {access} b
  ON b.ip = a.ip AND b.client_id IS NOT NULL AND b.client_id <> a.client_id
 AND b.at BETWEEN a.at - %(window)s AND a.at + %(window)s
WHERE a.ip IS NOT NULL {among}
  AND NOT EXISTS (SELECT 1 FROM {shared} s WHERE a.ip <<= s.network::inet)
GROUP BY a.client_id, b.client_id, a.ip
"""


def _shared_addresses(ids: list[int], *, among: bool, window: timedelta | None):
    """Sign-ins (sign-ups included) of two clients from one address within the window: one
    query, over the (ip, at) index of clients' records."""
    if window is None:
        window = timedelta(days=settings.CLIENT_LINKS_IP_WINDOW_DAYS)
    sql = ADDRESSES_SQL.format(
        access=AccessRecord._meta.db_table,
        shared=SharedNetwork._meta.db_table,
        among="AND b.client_id IN (SELECT id FROM ids)" if among else "",
        signups="a.kind = 'signup' AND b.kind = 'signup'",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, "window": window})
        rows = cursor.fetchall()
    for a, b, ip, at_signup, at_signin in rows:
        if at_signup is not None:
            evidence = {"ip": ip, "seconds_apart": int(at_signup)}
            yield a, b, Reason("registration_ip", f"Same sign-up IP {ip}", evidence, IP_ORDER)
        if at_signin is not None:
            evidence = {"ip": ip, "seconds_apart": int(at_signin)}
            yield a, b, Reason("login_ip", f"Same sign-in IP {ip}", evidence, IP_ORDER + 1)


# --- Opposite trades -------------------------------------------------------------------------


@dataclass(frozen=True)
class OppositeTrade:
    """A buy and a sell opened on one symbol within the window by two different clients."""

    symbol: str
    buy_deal_id: int
    sell_deal_id: int
    buy_ticket: int
    sell_ticket: int
    buy_client_id: int
    sell_client_id: int
    buy_account_id: int
    sell_account_id: int
    buy_time: datetime
    sell_time: datetime
    buy_volume: int  # 1/10000 lot
    sell_volume: int

    @property
    def seconds_apart(self) -> float:
        return abs((self.sell_time - self.buy_time).total_seconds())


MAX_WINDOW_SECONDS = 3600

# The set's opening deals read once (a hashed array filter: the planner then knows the set's
# size and reads by index or by scan as fits), cut into buckets as wide as the window; a buy
# meets the sells of its own bucket and the two next to it by a hash join: one pass over the
# deals, however many, instead of a probe per buy (half a million probes took minutes for a
# month of a busy book). Each buy is written out once per bucket it probes (`buys`), so the
# join's keys are plain columns of both sides and the hash is on (symbol, bucket) whatever the
# planner estimates (with the step as a third relation it could hash on the symbol alone and
# compare every buy with every sell of it: a night of the large book ran over 5 minutes, and
# was stopped, where it takes 4 s).
OPPOSITE_SQL = """
WITH opening AS MATERIALIZED (
  SELECT d.id, d.ticket, d.client_id, d.account_id, d.time, d.volume, d.symbol, d.action,
         floor(extract(epoch FROM d.time) / %(width)s)::bigint AS bucket
    FROM {deal} d
   WHERE d.{column} = ANY(%(ids)s::bigint[]) AND d.entry = 0 AND d.action IN (0, 1) {range}
), buys AS MATERIALIZED (
  SELECT b.*, b.bucket + k.step AS probe
    FROM opening b CROSS JOIN (VALUES (-1), (0), (1)) k(step)
   WHERE b.action = 0 {period}
)
SELECT b.symbol, b.id, s.id, b.ticket, s.ticket, b.client_id, s.client_id,
       b.account_id, s.account_id, b.time, s.time, b.volume, s.volume
  FROM buys b
  JOIN opening s ON s.symbol = b.symbol AND s.bucket = b.probe
 WHERE s.action = 1 AND s.client_id <> b.client_id
   AND s.time BETWEEN b.time - %(window)s AND b.time + %(window)s {volume}
 ORDER BY b.time, b.id, s.id
"""


# Only the pairs one of whose sides opened a position of `touching` deals: those positions'
# opening deals, each probed for the other side through the opening deals' (symbol, time)
# index (a few rows each), instead of reading every opening deal of the set in the period.
TOUCHING_SQL = """
WITH ids AS MATERIALIZED (
  SELECT DISTINCT unnest(%(ids)s::bigint[]) AS id
), mine AS MATERIALIZED (
  SELECT o.id, o.client_id, o.time, o.symbol, o.action
    FROM {deal} d
    JOIN {deal} o ON o.server_id = d.server_id AND o.position_id = d.position_id
                 AND o.entry = 0 AND o.action IN (0, 1)
   WHERE d.id = ANY(%(touching)s::bigint[]) AND d.position_id <> 0
     AND o.{column} IN (SELECT id FROM ids)
  UNION
  SELECT d.id, d.client_id, d.time, d.symbol, d.action
    FROM {deal} d
   WHERE d.id = ANY(%(touching)s::bigint[]) AND d.entry = 0 AND d.action IN (0, 1)
     AND d.{column} IN (SELECT id FROM ids)
), pairs AS (
  SELECT DISTINCT CASE WHEN m.action = 0 THEN m.id ELSE o.id END AS buy_id,
                  CASE WHEN m.action = 0 THEN o.id ELSE m.id END AS sell_id
    FROM mine m
   CROSS JOIN LATERAL (
         SELECT o.id, o.{column} AS member FROM {deal} o
          WHERE o.symbol = m.symbol AND o.entry = 0 AND o.action IN (0, 1)
            AND o.time BETWEEN m.time - %(window)s AND m.time + %(window)s
            AND o.action <> m.action AND o.client_id <> m.client_id
         OFFSET 0) o
   WHERE o.member IN (SELECT id FROM ids)
)
SELECT b.symbol, b.id, s.id, b.ticket, s.ticket, b.client_id, s.client_id,
       b.account_id, s.account_id, b.time, s.time, b.volume, s.volume
  FROM pairs p
 CROSS JOIN LATERAL (SELECT * FROM {deal} WHERE id = p.buy_id OFFSET 0) b
 CROSS JOIN LATERAL (SELECT * FROM {deal} WHERE id = p.sell_id OFFSET 0) s
 WHERE true {volume} {period}
 ORDER BY b.time, b.id, s.id
"""


def opposite_trades(
    *,
    account_ids: Iterable[int] | None = None,
    client_ids: Iterable[int] | None = None,
    window_seconds: float = 10,
    since: datetime | None = None,
    until: datetime | None = None,
    same_volume: bool = False,
    touching: Iterable[int] | None = None,
) -> list[OppositeTrade]:
    """Pairs of opening deals (entry in) on one canonical symbol, a buy and a sell, opened at
    most `window_seconds` apart (inclusive) on accounts of two different clients of the set
    (given as trading accounts or as clients); the buy's time in [since, until) when given;
    with `same_volume`, only pairs of equal volume (one side hedging the other exactly); with
    `touching` (deal ids), only pairs one of whose sides opened the position of one of them.
    One query: the set's opening deals read once and matched by a hash join on (symbol, time
    bucket as wide as the window), never a probe per buy; with `touching`, the positions'
    opening deals each probed through the index instead (`TOUCHING_SQL`)."""
    if (account_ids is None) == (client_ids is None):
        raise ValueError("Give account_ids or client_ids, not both.")
    if not 0 <= window_seconds <= MAX_WINDOW_SECONDS:
        raise ValueError(f"window_seconds is 0 to {MAX_WINDOW_SECONDS}.")
    column = "account_id" if account_ids is not None else "client_id"
    ids = _ids(account_ids if account_ids is not None else client_ids)
    if not ids:
        return []
    window = timedelta(seconds=window_seconds)
    params = {"ids": ids, "window": window, "width": max(float(window_seconds), 1.0)}
    period = span = ""
    if since is not None:
        period += " AND b.time >= %(since)s"
        span += " AND d.time >= %(since_wide)s"
        params |= {"since": since, "since_wide": since - window}
    if until is not None:
        period += " AND b.time < %(until)s"
        span += " AND d.time < %(until_wide)s"
        params |= {"until": until, "until_wide": until + window + timedelta(seconds=1)}
    volume = "AND s.volume = b.volume" if same_volume else ""
    if touching is not None:
        params["touching"] = _ids(touching)
        if not params["touching"]:
            return []
        sql = TOUCHING_SQL.format(
            deal=Deal._meta.db_table, column=column, period=period, volume=volume
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
            return [OppositeTrade(*row) for row in cursor.fetchall()]
    sql = OPPOSITE_SQL.format(
        deal=Deal._meta.db_table, column=column, period=period, volume=volume, range=span
    )
    # The planner cannot see how many opening deals the set has (it guesses a few thousand)
    # and would sort both sides for a merge join, or loop; the hash join is right at any size.
    # JIT would take longer to compile than the query runs. Both for this transaction only
    # (the caller's, when it has one).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(sql, params)
        return [OppositeTrade(*row) for row in cursor.fetchall()]
