"""Leadership figures from rollup tables each app keeps of its own records.

Each app contributes a `Rollup` to the `rollups` hook (brokerage.hooks) in its
`contributions.py`. A rollup owns its tables and knows three things:

- `rebuild(days)`: recompute its rows from the raw records with set-based SQL, for the given
  days, or for all days when `days` is None (the `rollups_rebuild` command);
- `touched(since)`: the days whose rows may have changed since a watermark (a deposit completed
  today touches today; a lead converting touches the day the lead came in);
- `answer(flt, user)`: its figures, charts and tables for a leadership filter, each from a fixed
  number of queries on its rollup tables, whatever the filter and however large the book.

`rollups_refresh()` (Celery, on commit of a money row and on a short beat) moves each rollup
from its watermark to now by rebuilding the days touched in between; the overlap re-reads
changes a slow transaction committed after the last refresh started. The kernel never imports
the apps: it asks the hook. Reads are marked with `replica_reads()` so they can move to a read
replica without touching the figures.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, router, transaction
from django.utils import timezone

from .hooks import ROLLUPS, USD_RATES, contributions

# A refresh re-reads what changed this long before its watermark: a transaction that stamped
# its rows before the last refresh started but committed after it is still counted.
OVERLAP = timedelta(minutes=10)

FILTERS = ("desk", "country", "psp", "ib")


@dataclass(frozen=True)
class Filter:
    """What a leadership page is looking at: days `start`..`end` (inclusive, UTC), and
    optionally desks (None: every desk, including clients on none), a country (ISO code), a
    PSP and an IB (its referral code)."""

    start: date
    end: date
    desk_ids: tuple[int, ...] | None = None
    country: str = ""
    psp: str = ""
    ib: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Filter:
        """The same filter over the period of the same length just before."""
        return replace(
            self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1)
        )

    def applied(self) -> set[str]:
        given = {"desk": self.desk_ids is not None, "country": self.country}
        given |= {"psp": self.psp, "ib": self.ib}
        return {name for name, value in given.items() if value}

    def where(
        self, honours: Iterable[str], columns: dict[str, str] | None = None, day: str = "day"
    ):
        """SQL conditions and parameters for the dimensions a rollup honours; its day column is
        `day` (none: a table without days, such as the traders' days), its others named as in
        `columns` (desk -> desk_id by default). `%(ndays)s` is the period's length."""
        cols = FILTER_COLUMNS | (columns or {})
        parts, params = (
            [f"{day} BETWEEN %(prev_start)s AND %(end)s" if day else "TRUE"],
            {
                "prev_start": self.previous.start,
                "start": self.start,
                "end": self.end,
                "ndays": self.days,
            },
        )
        honours = set(honours)
        if "desk" in honours and self.desk_ids is not None:
            parts.append(f"{cols['desk']} = ANY(%(desk_ids)s)")
            params["desk_ids"] = list(self.desk_ids)
        for name in ("country", "psp", "ib"):
            if name in honours and getattr(self, name):
                parts.append(f"{cols[name]} = %({name})s")
                params[name] = getattr(self, name)
        if "ib" in params:
            params["ib"] = params["ib"].upper()  # referral codes are kept in capitals
        return " AND ".join(parts), params


@dataclass
class Figure:
    key: str
    label: str
    value: Decimal | int | None
    previous: Decimal | int | None = None
    unit: str = "count"  # count | usd | lots | pct | hours
    link: str = ""
    group: str = ""
    hint: str = ""
    order: int = 100
    ignored: tuple[str, ...] = ()  # filters this figure cannot be split by
    now: bool = False  # as it stands now, not over the period (no previous period)

    @property
    def change(self) -> Decimal | None:
        """The change against the previous period, in percent (None when it had nothing)."""
        if self.value is None or not self.previous:
            return None
        return (Decimal(self.value) - Decimal(self.previous)) * 100 / abs(Decimal(self.previous))


@dataclass
class Chart:
    id: str
    title: str
    kind: str  # "line" | "bar"
    labels: list[str]
    datasets: list[dict]
    order: int = 100


@dataclass
class Table:
    id: str
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # one per row, "" where none
    order: int = 100
    ignored: tuple[str, ...] = ()
    # Columns holding personal data (a person's name...): {header: one id per row, or None}.
    # Figures-only users (executives) export the ids instead, or nothing (brokerage.exports).
    personal: dict[str, list | None] = field(default_factory=dict)


@dataclass
class Answer:
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class Cards:
    """A rollup's card table: its rows summed to one per day and the filters' dimensions the
    rollup honours (`dims`, columns of `source` and of `table` alike), amounts already in USD.
    The cards, the per-day charts and the tables split by a filter's dimension read it
    instead of the finer rows, so a year's figures are a few thousand rows. The kernel fills
    it from `source` after each rebuild of the rollup's days; `sums` are {column: aggregate
    over `source`'s rows}."""

    table: str
    source: str
    dims: tuple[str, ...]
    sums: dict[str, str]

    def rebuild(self, days: list[date] | None) -> None:
        columns = ", ".join(("day", *self.dims, *self.sums))
        keys = ", ".join(("day", *self.dims))
        where = "TRUE" if days is None else "day = ANY(%(days)s)"
        replace_rows(
            self.table,
            f"INSERT INTO {self.table} ({columns}) SELECT {keys}, {select_list(self.sums, False)} "
            f"FROM {self.source} WHERE {where} GROUP BY {keys}",
            {"days": list(days or [])},
            days,
        )


FILTER_COLUMNS = {"desk": "desk_id", "country": "country", "psp": "psp", "ib": "ib_code"}


def cards_for(options: Iterable[Cards], flt: Filter, honours: Iterable[str], *dims: str) -> Cards:
    """The first of `options` (the coarsest first) whose rows are split by each filter `flt`
    applies that the rollup `honours`, and by `dims`: the fewest rows that can answer."""
    needed = {FILTER_COLUMNS[name] for name in flt.applied() & set(honours)} | set(dims)
    for cards in options:
        if needed <= set(cards.dims):
            return cards
    raise LookupError(f"No card table is split by {sorted(needed)}.")


@dataclass(frozen=True)
class Rollup:
    """An app's rollup: see the module docstring. `honours` names the filters its figures can
    be split by; the others are shown as not applying to them."""

    name: str
    label: str
    tables: tuple[str, ...]
    rebuild: Callable[[list[date] | None], None]
    touched: Callable[[datetime], set[date]]
    answer: Callable[[Filter, object], Answer]  # (filter, user): links the user may follow
    honours: frozenset[str] = frozenset()
    order: int = 100
    # fn() -> {filter: [(value, label)]}: the values a filter offers that only this app knows
    # (finance: the PSPs; ib: the IBs).
    choices: Callable[[], dict[str, list[tuple[str, str]]]] | None = None
    cards: tuple[Cards, ...] = ()

    def rebuild_days(self, days: list[date] | None) -> None:
        """Rebuild `days` (all when None): the rollup's own rows, then its card tables."""
        self.rebuild(days)
        for cards in self.cards:
            cards.rebuild(days)

    @property
    def all_tables(self) -> tuple[str, ...]:
        return self.tables + tuple(c.table for c in self.cards)


def rollups() -> list[Rollup]:
    return list(contributions(ROLLUPS))


def rollup_get(name: str) -> Rollup:
    for r in rollups():
        if r.name == name:
            return r
    raise LookupError(f"No rollup named {name!r}.")


# --- Building -----------------------------------------------------------------------------------


def day_in(column: str, days: list[date] | None) -> tuple[str, dict]:
    """SQL keeping rows whose UTC day of `column` is one of `days` (every row when None), by a
    range the column's index can serve and the exact days."""
    if days is None:
        return "TRUE", {}
    lo, hi = min(days), max(days) + timedelta(days=1)
    sql = (
        f"({column} >= %(day_lo)s AND {column} < %(day_hi)s "
        f"AND ({column} AT TIME ZONE 'UTC')::date = ANY(%(days)s))"
    )
    return sql, {"day_lo": _midnight(lo), "day_hi": _midnight(hi), "days": list(days)}


def day_conditions(days: list[date] | None, **columns: str) -> tuple[dict[str, str], dict]:
    """`day_in` for several columns at once: {name: SQL} and the parameters they share."""
    parts, params = {}, {}
    for name, column in columns.items():
        parts[name], p = day_in(column, days)
        params |= p
    return parts, params


def replace_rows(table: str, insert_sql: str, params: dict, days: list[date] | None) -> None:
    """Empty `table` for `days` (all of it when None), then run `insert_sql`, which inserts
    those days again. Rows are deleted, never truncated: TRUNCATE would lock the table against
    every reader until the rebuild commits, where a DELETE lets the pages read the rows as
    they were until then."""
    with connection.cursor() as cur:
        if days is None:
            cur.execute(f"DELETE FROM {table}")
        else:
            cur.execute(f"DELETE FROM {table} WHERE day = ANY(%s)", [list(days)])
        cur.execute(insert_sql, params)


def fill_usd_rates(table: str, currency: str = "currency", rate: str = "usd_rate") -> None:
    """Set `rate` on the rows of `table` that have none: the USD value of their `currency` at
    the end of their day (by the `fx.usd_rates` hook). A currency without a rate stays empty
    and its amounts are left out of USD figures."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT day, {currency} FROM {table} "
            f"WHERE {rate} IS NULL AND {currency} <> ''"
        )
        pending = cur.fetchall()
        if not pending:
            return
        rates = usd_rates(sorted({day for day, _ in pending}))
        found = [(d, c, rates[d].get(c)) for d, c in pending if rates[d].get(c) is not None]
        if not found:
            return
        days, currencies, values = (list(x) for x in zip(*found, strict=True))
        cur.execute(
            f"UPDATE {table} m SET {rate} = r.rate "
            "FROM unnest(%s::date[], %s::text[], %s::numeric[]) AS r(day, currency, rate) "
            f"WHERE m.{rate} IS NULL AND m.day = r.day AND m.{currency} = r.currency",
            [days, currencies, values],
        )


def days_spanned(first: date | None, last: date | None) -> list[date]:
    """Every day from `first` to `last` (none when either is missing)."""
    if first is None or last is None:
        return []
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def usd_rate_relation(days: list[date]) -> tuple[str, dict]:
    """A relation `fx(day, currency, rate)` of each of `days`' USD rates (by the `fx.usd_rates`
    hook), for a rebuild to join its rows to as it inserts them, instead of converting at
    read time or updating every row afterwards. A currency without a rate has no row."""
    rates = usd_rates(days) if days else {}
    found = [(d, c, r) for d, by in rates.items() for c, r in by.items() if r is not None]
    columns = [list(x) for x in zip(*found, strict=True)] if found else [[], [], []]
    sql = (
        "(SELECT * FROM unnest(%(fx_days)s::date[], %(fx_currencies)s::text[], "
        "%(fx_rates)s::numeric[]) AS r(day, currency, rate))"
    )
    return sql, dict(zip(("fx_days", "fx_currencies", "fx_rates"), columns, strict=True))


# Days as bits: a row's `days` has bit i set when it happened on `first_day` + i (one row per
# client instead of one per client and day). Whether it happened in a period is one substring
# of it, whatever the period's length: distinct clients of any range are counted from one row
# each.
DAY_BITS = "bit_or(rpad(lpad('1', {day} - {first} + 1, '0'), {last} - {first} + 1, '0')::varbit)"


def day_bits_in(period: str = "start", bits: str = "days", first: str = "first_day") -> str:
    """SQL: the row's `bits` have a day in the filter's period (`start`) or the one before
    (`prev_start`); the period's length is `%(ndays)s` (Filter.where)."""
    return f"position(B'1' IN substring({bits} FROM %({period})s - {first} + 1 FOR %(ndays)s)) > 0"


def touched_days(sql: str, params: dict) -> set[date]:
    """The days a query names (one `day` per row)."""
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {row[0] for row in cur.fetchall() if row[0] is not None}


def fetch(sql: str, params: dict) -> list[dict]:
    """Rows of a read on the rollup tables, as dicts, from the database reads are routed to
    (the replica inside `replica_reads()`, where one is configured)."""
    from .models import RollupState

    with connections[router.db_for_read(RollupState)].cursor() as cur:
        cur.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def period_sums(table: str, where: str, params: dict, sums: dict[str, str]) -> dict:
    """One row of `sums` ({name: aggregate SQL}) over `table`'s rows matching `where` (a
    `Filter.where`), each for the filter's period as `name` and for the period before as
    `prev_name`."""
    cols = []
    for prefix, period in (("", "day >= %(start)s"), ("prev_", "day < %(start)s")):
        cols += [f"{_only(expr, period)} AS {prefix}{name}" for name, expr in sums.items()]
    sql = f"SELECT {', '.join(cols)} FROM {table} WHERE {where}"
    return fetch(sql, params)[0]


def select_list(sums: dict[str, str], named: bool = True) -> str:
    """`sums` as a SELECT list, each aggregate named (or in order, for an INSERT)."""
    return ", ".join(f"{expr} AS {name}" if named else expr for name, expr in sums.items())


def _only(expr: str, period: str) -> str:
    """An aggregate `expr` (`sum(x)`, `-sum(x) FILTER (WHERE y)`, `sum(x) / 2`) restricted to
    the rows of `period`."""
    if " FILTER (WHERE " in expr:
        return expr.replace(" FILTER (WHERE ", f" FILTER (WHERE {period} AND ")
    depth, start = 0, expr.index("(")
    for i in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return f"{expr[: i + 1]} FILTER (WHERE {period}){expr[i + 1 :]}"
    raise ValueError(f"Unbalanced aggregate: {expr}")


def usd_rates(days: list[date]) -> dict[date, dict[str, Decimal]]:
    """Each day's USD rates, as the app keeping them contributes them (finance)."""
    for provider in contributions(USD_RATES):
        return provider(days)
    return {d: {"USD": Decimal(1)} for d in days}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- Refreshing and rebuilding ------------------------------------------------------------------


def rollups_refresh(names: Iterable[str] | None = None) -> dict[str, int]:
    """Bring each rollup from its watermark to now: the days touched since are rebuilt. A
    rollup never built is rebuilt whole. A rollup another refresh or a rebuild is working on
    (its state row locked) is skipped, not waited for: that run sets the watermark to when it
    started, so the next refresh reads what came after. Returns the days rebuilt per rollup
    (None for one skipped)."""
    from .models import RollupState

    done = {}
    for rollup in rollups():
        if names is not None and rollup.name not in names:
            continue
        RollupState.objects.get_or_create(name=rollup.name)
        with transaction.atomic():
            state = (
                RollupState.objects.select_for_update(skip_locked=True)
                .filter(name=rollup.name)
                .first()
            )
            if state is None:
                done[rollup.name] = None
                continue
            now = timezone.now()
            if state.watermark is None:
                rollup.rebuild_days(None)
                done[rollup.name] = -1
                state.rebuilt_at = now
            else:
                days = sorted(rollup.touched(state.watermark - OVERLAP))
                if days:
                    rollup.rebuild_days(days)
                done[rollup.name] = len(days)
            state.watermark = state.refreshed_at = now
            state.save()
    return done


# A full rebuild runs this many rollups at once, each on a connection of its own: they read
# different raw records and write different tables.
REBUILD_CONNECTIONS = 2
# Memory each sort and hash of a full rebuild may use before it spills to disk.
REBUILD_WORK_MEM = "128MB"


def rollups_rebuild(names: Iterable[str] | None = None) -> dict[str, float]:
    """Recompute every rollup from the raw records; seconds taken per rollup. Outside a
    transaction the rollups are rebuilt `REBUILD_CONNECTIONS` at a time, the slowest of the
    last rebuild first; inside one (a test's), one after the other on its connection."""
    from .models import RollupState

    chosen = [r for r in rollups() if names is None or r.name in names]
    last = {}
    for rollup in chosen:
        state, _ = RollupState.objects.get_or_create(name=rollup.name)
        last[rollup.name] = state.rebuild_seconds or 0
    if connection.in_atomic_block or len(chosen) < 2:
        return {r.name: _rebuild(r) for r in chosen}
    slowest_first = sorted(chosen, key=lambda r: -last[r.name])
    with ThreadPoolExecutor(max_workers=REBUILD_CONNECTIONS) as pool:
        seconds = pool.map(_rebuild_closing, slowest_first)
        taken = {r.name: s for r, s in zip(slowest_first, seconds, strict=True)}
    return {r.name: taken[r.name] for r in chosen}


def _rebuild_closing(rollup: Rollup) -> float:
    try:
        return _rebuild(rollup)
    finally:
        connection.close()  # this thread's connection


def _rebuild(rollup: Rollup) -> float:
    from .models import RollupState

    started = time.perf_counter()
    with transaction.atomic():
        state = RollupState.objects.select_for_update().get(name=rollup.name)
        now = timezone.now()
        with connection.cursor() as cur:  # a whole book's rows sorted and hashed in memory
            cur.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
        rollup.rebuild_days(None)
        seconds = time.perf_counter() - started
        state.watermark = state.refreshed_at = state.rebuilt_at = now
        state.rebuild_seconds = seconds
        state.save()
    with connection.cursor() as cur:
        for table in rollup.all_tables:
            cur.execute(f"ANALYZE {table}")
    return round(seconds, 3)


QUEUED_KEY = "rollups:refresh-queued"
DEALS_QUEUED_KEY = "rollups:deals-refresh-queued"
# The rollups read from deals: the trading days, rebuilt from every deal of a day touched. A
# money row's refresh leaves them to the refresh the sync passes queue (and to the beat's).
FROM_DEALS = ("trading",)


def refresh_on_commit(*_args, **_kwargs) -> list:
    """Refresh the rollups once the current transaction commits (a money row): contributed to
    the hook that announces them. Refreshes asked for while one is queued and not yet started
    are served by it. Returns [] (no review reasons)."""
    transaction.on_commit(_enqueue_refresh)
    return []


def refresh_after_deals(*_args, **_kwargs) -> list:
    """The same for a sync pass's new deals, at most once every
    `ROLLUPS_DEALS_REFRESH_SECONDS` (5): passes come every 2 s while clients trade, and
    rebuilding a trading day reads every deal of it. Returns [] (no review reasons)."""
    transaction.on_commit(_enqueue_deals_refresh)
    return []


def _enqueue_refresh() -> None:
    from django.core.cache import cache

    from .tasks import rollups_refresh_task

    if cache.add(QUEUED_KEY, 1, timeout=30):  # expires in case the task is lost: the beat
        # a broker that cannot be reached is logged, not raised: the beat's refresh catches up
        rollups_refresh_task.apply_async_logged(kwargs={"skip": FROM_DEALS}, countdown=1)


def _enqueue_deals_refresh() -> None:
    from django.core.cache import cache

    from .tasks import rollups_refresh_task

    wait = settings.ROLLUPS_DEALS_REFRESH_SECONDS
    if cache.add(DEALS_QUEUED_KEY, 1, timeout=wait + 30):  # as above
        rollups_refresh_task.apply_async_logged(kwargs={"deals": True}, countdown=wait)


# --- Reading ------------------------------------------------------------------------------------


def replica_reads():
    """Marks the leadership reads: routed to a read replica when one is configured."""
    try:
        from . import db  # the replica router's context, where it exists
    except ImportError:
        return contextlib.nullcontext()
    mark = getattr(db, "reads_from_replica", None)
    return mark() if mark else contextlib.nullcontext()


def link_for(user, *targets: tuple[str, str]) -> str:
    """The first of (permission, url) that `user` may follow ("" when none): a figure links
    to the list behind it only for those who may open that list."""
    return next((url for perm, url in targets if user.has_perm(perm)), "")


def leadership_answer(flt: Filter, user) -> Answer:
    """Every rollup's figures for `flt`, each marked with the filters it cannot honour."""
    return merge_answers(((r.answer, r.honours) for r in rollups()), flt, user)


def merge_answers(parts: Iterable[tuple[Callable, Iterable[str]]], flt: Filter, user) -> Answer:
    """One page's answer from its parts' (answer(flt, user), filters it honours): figures,
    charts and tables in their order, each marked with the filters applied that its part
    cannot honour. The reads are marked for the read replica."""
    answer = Answer()
    applied = flt.applied()
    with replica_reads():
        for answer_fn, honours in parts:
            part = answer_fn(flt, user)
            ignored = tuple(sorted(applied - set(honours)))
            for f in part.figures:
                f.ignored = ignored
            for t in part.tables:
                t.ignored = ignored
            answer.figures.extend(part.figures)
            answer.charts.extend(part.charts)
            answer.tables.extend(part.tables)
    answer.figures.sort(key=lambda f: f.order)
    answer.charts.sort(key=lambda c: c.order)
    answer.tables.sort(key=lambda t: t.order)
    return answer


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The PSPs, IBs ... the apps offer as filter values."""
    out: dict[str, list[tuple[str, str]]] = {}
    for rollup in rollups():
        if rollup.choices is not None:
            for name, values in rollup.choices().items():
                out.setdefault(name, []).extend(values)
    return out


def day_labels(flt: Filter) -> list[date]:
    return [flt.start + timedelta(days=i) for i in range(flt.days)]


def day_chart(id: str, title: str, flt: Filter, bars: tuple, line: tuple, order: int) -> Chart:
    """A chart of the filter's days: `bars` and `line` are (label, {day: value}), the bars on
    the left axis and the line on the right."""
    days = day_labels(flt)
    return Chart(
        id,
        title,
        "bar",
        [d.isoformat()[5:] for d in days],
        [
            {"label": label, "data": [float(v.get(d) or 0) for d in days], "yAxisID": axis}
            | ({"type": "line"} if axis == "y1" else {})
            for (label, v), axis in ((bars, "y"), (line, "y1"))
        ],
        order=order,
    )
