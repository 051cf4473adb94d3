"""Trading platform sync: deals, open positions and account balances of every active server.

A pass reads the server's new deals, and its open positions and account balances when they were
last read PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS ago or more; beat queues a pass every
PLATFORM_SYNC_INTERVAL_SECONDS. One pass per server at a time (a Redis lock, kept alive while
the pass runs: a pass whose worker died frees its server within LOCK_TTL seconds). Deals are
read for the window [cursor - overlap, now] in batches of logins at the server's rate limit; an
account new to us is read from `backfill_hours` back. Each deal is stored once per (server,
ticket), so windows may overlap and passes may repeat. The cursor only moves when every batch of
the pass was read, so a failed pass is read again by the next. Records the adapter cannot read
are kept as SyncRejection rows with the reason; the rest of the pass goes on.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from brokerage.hooks import DEALS_SYNCED, contributions
from brokerage.kv import redis_client

from .models import (
    Client,
    DealRevision,
    Position,
    SyncRejection,
    SyncRun,
    TradingAccount,
    TradingServer,
)
from .platforms import PlatformError, Rejected, TradingPlatform, platform_for

log = logging.getLogger(__name__)

# The server's lock lives LOCK_TTL seconds unless the pass holding it renews it (every
# LOCK_RENEW seconds, from a thread of its own): a pass whose worker was killed frees its server
# within LOCK_TTL, not after the task's time limit, and the next beat's pass resumes from the
# cursor. Two passes overlapping (a renewal missed) would only read some deals twice, stored once.
LOCK_TTL = 30
LOCK_RENEW = 10
INSERT_CHUNK = 2000


def _lock(server_id: int, purpose: str = "sync"):
    # Not thread-local: the keep-alive thread renews the token the pass's thread acquired.
    return redis_client().lock(
        f"platform-{purpose}:{server_id}", timeout=LOCK_TTL, blocking=False, thread_local=False
    )


@contextmanager
def _kept_alive(lock, server_id: int):
    """Renew `lock`'s time to live every LOCK_RENEW seconds until the block ends."""
    done = threading.Event()

    def renew():
        while not done.wait(LOCK_RENEW):
            try:
                lock.reacquire()
            except Exception:  # noqa: BLE001  (Redis away or the lock lost: the pass goes on)
                log.warning("platform sync lock of server %s could not be renewed", server_id)

    keeper = threading.Thread(target=renew, name=f"sync-lock-{server_id}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join(5)


@contextmanager
def server_held(server_id: int, platform: TradingPlatform | None = None, *, purpose="sync"):
    """Hold the server's lock for `purpose` (one sync pass of a server at a time; one deals
    review, `purpose="review"`, beside it: a review reading days of deals never holds up the
    new ones) and its platform: yields (server, platform, None), or (None, None, why) when
    another holds it, or (server, None, PlatformError) when the platform cannot be reached.
    Closes the platform it opened and frees the lock."""
    lock = _lock(server_id, purpose)
    if not lock.acquire():
        yield None, None, f"a {purpose} of this server is running"
        return
    own = platform is None
    try:
        with _kept_alive(lock, server_id):
            server = TradingServer.objects.get(pk=server_id)
            try:
                platform = platform or platform_for(server)
            except PlatformError as exc:
                yield server, None, exc
                return
            yield server, platform, None
    finally:
        if own and platform is not None:
            platform.close()
        try:
            lock.release()
        except Exception:  # noqa: BLE001  (expired: another pass may hold it now)
            log.warning("platform sync lock of server %s had expired", server_id)


def server_sync(*, server_id: int, platform: TradingPlatform | None = None) -> dict:
    """One pass over a server: deals, then positions, then account balances. Skipped when
    another pass holds the server. A platform failure is recorded on the server and its run."""
    with server_held(server_id, platform) as (server, platform, problem):
        if server is None:
            return {"skipped": problem}
        if platform is None:
            _failed(server, SyncRun.Kind.DEALS, timezone.now(), problem)
            return {"error": problem.message}
        return _steps(server, platform)


def _balances_due(server: TradingServer, now: datetime) -> bool:
    """Positions and balances are read at most every PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS
    (deals every pass): each reads every account of the server."""
    from django.conf import settings

    every = timedelta(seconds=settings.PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS)
    last = [server.positions_synced_at, server.accounts_refreshed_at]
    return any(at is None or now - at >= every for at in last)


def _steps(server: TradingServer, platform: TradingPlatform) -> dict:
    result = {}
    steps = [(SyncRun.Kind.DEALS, deals_sync)]
    if _balances_due(server, timezone.now()):
        steps += [
            (SyncRun.Kind.POSITIONS, positions_sync),
            (SyncRun.Kind.ACCOUNTS, accounts_refresh),
        ]
    for kind, step in steps:
        started = timezone.now()
        try:
            result[kind] = step(server=server, platform=platform)
        except PlatformError as exc:
            _failed(server, kind, started, exc)
            result[kind] = {"error": exc.message}
            break
    else:
        if server.last_error:
            TradingServer.objects.filter(pk=server.pk).update(last_error="")
    return result


def _failed(server: TradingServer, kind: str, started: datetime, exc: PlatformError) -> None:
    log.warning("platform sync of %s (%s) failed: %s", server.name, kind, exc.message)
    now = timezone.now()
    TradingServer.objects.filter(pk=server.pk).update(last_error=exc.message, last_error_at=now)
    SyncRun.objects.create(
        server=server, kind=kind, started_at=started, finished_at=now, error=exc.message[:2000]
    )


def _accounts(server: TradingServer) -> list[dict]:
    return list(
        TradingAccount.objects.filter(server=server, status=TradingAccount.Status.ACTIVE).values(
            "id", "login", "client_id", "backfill_pending"
        )
    )


# --- deals ---------------------------------------------------------------------------------------


def deals_sync(*, server: TradingServer, platform: TradingPlatform, now=None) -> dict:
    started = timezone.now()
    now = now or started
    accounts = _accounts(server)
    by_login = {a["login"]: a for a in accounts}
    backfill_from = now - timedelta(hours=server.backfill_hours)
    cursor = server.deals_synced_through
    since = (cursor or backfill_from) - timedelta(seconds=server.overlap_seconds)
    fresh = [a["login"] for a in accounts if a["backfill_pending"]]
    regular = [a["login"] for a in accounts if not a["backfill_pending"]]
    fetched = calls = inserted = 0
    rejected: list[Rejected] = []
    step = max(1, server.batch_size)
    for logins, start in ((regular, since), (fresh, min(since, backfill_from))):
        for i in range(0, len(logins), step):  # one call at a time, stored as it arrives
            part = platform.deals(logins=logins[i : i + step], since=start, until=now)
            added, unlinked = deals_ingest(server=server, records=part.records, by_login=by_login)
            fetched += len(part.records) + len(part.rejected)
            calls += part.calls
            inserted += added
            rejected += part.rejected + unlinked
    rejections_record(server=server, kind="deal", rejected=rejected)
    with transaction.atomic():
        TradingServer.objects.filter(pk=server.pk).update(deals_synced_through=now)
        if fresh:
            TradingAccount.objects.filter(server=server, login__in=fresh).update(
                backfill_pending=False
            )
        SyncRun.objects.create(
            server=server,
            kind=SyncRun.Kind.DEALS,
            started_at=started,
            finished_at=timezone.now(),
            window_from=since,
            window_to=now,
            calls=calls,
            fetched=fetched,
            ingested=inserted,
            rejected=len(rejected),
        )
    return {"fetched": fetched, "ingested": inserted, "rejected": len(rejected), "calls": calls}


INSERT_DEALS = """
WITH rows AS (
  SELECT * FROM unnest(
    %s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[], %s::smallint[], %s::smallint[],
    %s::text[], %s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[],
    %s::bigint[], %s::text[], %s::bigint[]
  ) AS r(ticket, account_id, client_id, time, action, entry, symbol, volume, price,
         profit_amount, swap_amount, commission_amount, position_id, comment, volume_ext)
)
INSERT INTO clients_deal (server_id, ticket, account_id, client_id, time, action, entry, symbol,
                          volume, price, profit_amount, swap_amount, commission_amount,
                          position_id, comment, volume_ext, synced_at)
SELECT %s, ticket, account_id, client_id, time, action, entry, symbol, volume, price,
       profit_amount, swap_amount, commission_amount, position_id, comment, volume_ext, now()
  FROM rows
ON CONFLICT (server_id, ticket) DO NOTHING
RETURNING account_id, client_id, time, action, id
"""


def deals_ingest(*, server: TradingServer, records: list, by_login: dict) -> tuple[int, list]:
    """Store new deals (a repeat of a stored ticket is ignored); keep accounts' and clients'
    last trade times; clear the retention flags of clients who traded. Returns (inserted, the
    deals of logins no client account has, as rejections)."""
    unlinked, rows = [], []
    seen = set()
    for d in records:
        account = by_login.get(d.login)
        if account is None:
            unlinked.append(
                Rejected(
                    f"login {d.login} is not a client's trading account", {}, d.ticket, d.login
                )
            )
            continue
        if d.ticket in seen:
            continue
        seen.add(d.ticket)
        rows.append((d, account))
    inserted = 0
    last_trade: dict[tuple[str, int], datetime] = {}
    for i in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[i : i + INSERT_CHUNK]
        cols = list(
            zip(
                *[
                    (
                        d.ticket,
                        a["id"],
                        a["client_id"],
                        d.time,
                        d.action,
                        d.entry,
                        d.symbol,
                        d.volume,
                        d.price,
                        d.profit,
                        d.swap,
                        d.commission,
                        d.position_id,
                        d.comment,
                        d.volume_ext,
                    )
                    for d, a in chunk
                ],
                strict=True,
            )
        )
        new_ids = []
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(INSERT_DEALS, [list(c) for c in cols] + [server.pk])
            for account_id, client_id, at, action, deal_id in cur.fetchall():
                inserted += 1
                new_ids.append(deal_id)
                if action in (0, 1):
                    for key in (("a", account_id), ("c", client_id)):
                        if key not in last_trade or last_trade[key] < at:
                            last_trade[key] = at
        if new_ids:
            _deals_synced(new_ids)
    if last_trade:
        _last_trade_update(last_trade)
    return inserted, unlinked


def _deals_synced(deal_ids: list[int]) -> None:
    """Tell the apps above (ib's commissions) which deals were just stored; an answer that fails
    never loses the deals, which the apps' own sweepers find again."""
    for fn in contributions(DEALS_SYNCED):
        try:
            fn(deal_ids)
        except Exception:
            log.exception("a deals-synced contribution failed; its sweeper will catch up")


def _last_trade_update(last_trade: dict) -> None:
    for prefix, model in (("a", TradingAccount), ("c", Client)):
        items = [(pk, at) for (p, pk), at in last_trade.items() if p == prefix]
        if not items:
            continue
        table = model._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                f"""UPDATE {table} t SET last_trade_at = v.at
                      FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at)
                     WHERE t.id = v.id AND (t.last_trade_at IS NULL OR t.last_trade_at < v.at)""",  # noqa: S608 (table names are ours)
                [[pk for pk, _ in items], [at for _, at in items]],
            )
    client_ids = [pk for (p, pk) in last_trade if p == "c"]
    from .retention.services import retention_flags_clear_on_trade

    retention_flags_clear_on_trade(client_ids=client_ids, actor="rule:platform-sync", wait=False)


def rejections_record(*, server: TradingServer, kind: str, rejected: list[Rejected]) -> None:
    """Keep each refused record once (per ticket), with the latest reason."""
    if not rejected:
        return
    for r in rejected:
        log.warning("%s sync refused a %s (ticket %s): %s", server.name, kind, r.ticket, r.reason)
    now = timezone.now()
    with_ticket = {r.ticket: r for r in rejected if r.ticket is not None}
    if with_ticket:
        existing = set(
            SyncRejection.objects.filter(
                server=server, kind=kind, ticket__in=list(with_ticket)
            ).values_list("ticket", flat=True)
        )
        SyncRejection.objects.filter(server=server, kind=kind, ticket__in=existing).update(
            last_seen_at=now
        )
        SyncRejection.objects.bulk_create(
            [
                SyncRejection(
                    server=server,
                    kind=kind,
                    ticket=t,
                    login=r.login,
                    reason=r.reason[:300],
                    payload=_jsonable(r.payload),
                )
                for t, r in with_ticket.items()
                if t not in existing
            ],
            ignore_conflicts=True,
        )
    for r in rejected:
        if r.ticket is None:
            payload = _jsonable(r.payload)
            if not SyncRejection.objects.filter(
                server=server,
                kind=kind,
                ticket__isnull=True,
                reason=r.reason[:300],
                payload=payload,
            ).exists():
                SyncRejection.objects.create(
                    server=server, kind=kind, login=r.login, reason=r.reason[:300], payload=payload
                )


def _jsonable(payload) -> dict:
    if isinstance(payload, dict):
        return {
            str(k): v if isinstance(v, str | int | float | bool | None) else str(v)
            for k, v in payload.items()
        }
    return {"raw": str(payload)[:500]}


# --- positions and accounts ---------------------------------------------------------------------

UPSERT_POSITIONS = """
INSERT INTO clients_position (server_id, position_id, account_id, client_id, symbol, action,
                              volume, price_open, price_current, profit_amount, swap_amount,
                              opened_at, volume_ext, synced_at)
SELECT %s, * , now() FROM unnest(
    %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::smallint[], %s::bigint[],
    %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[], %s::timestamptz[], %s::bigint[])
ON CONFLICT (server_id, position_id) DO UPDATE SET
    price_current = EXCLUDED.price_current, profit_amount = EXCLUDED.profit_amount,
    swap_amount = EXCLUDED.swap_amount, volume = EXCLUDED.volume,
    volume_ext = EXCLUDED.volume_ext, synced_at = EXCLUDED.synced_at
"""


def positions_sync(*, server: TradingServer, platform: TradingPlatform) -> dict:
    started = timezone.now()
    accounts = _accounts(server)
    by_login = {a["login"]: a for a in accounts}
    batch = platform.positions(logins=list(by_login))
    rows = [(p, by_login[p.login]) for p in batch.records if p.login in by_login]
    with transaction.atomic():
        # Positions still open: those read, and those refused this time (kept as they were).
        ids = [p.position_id for p, _ in rows] + [
            r.ticket for r in batch.rejected if r.ticket is not None
        ]
        Position.objects.filter(server=server).exclude(position_id__in=ids).delete()
        if rows:
            cols = list(
                zip(
                    *[
                        (
                            p.position_id,
                            a["id"],
                            a["client_id"],
                            p.symbol,
                            p.action,
                            p.volume,
                            p.price_open,
                            p.price_current,
                            p.profit,
                            p.swap,
                            p.opened_at,
                            p.volume_ext,
                        )
                        for p, a in rows
                    ],
                    strict=True,
                )
            )
            with connection.cursor() as cur:
                cur.execute(UPSERT_POSITIONS, [server.pk, *[list(c) for c in cols]])
        TradingServer.objects.filter(pk=server.pk).update(positions_synced_at=timezone.now())
        SyncRun.objects.create(
            server=server,
            kind=SyncRun.Kind.POSITIONS,
            started_at=started,
            finished_at=timezone.now(),
            calls=batch.calls,
            fetched=len(batch.records) + len(batch.rejected),
            ingested=len(rows),
            rejected=len(batch.rejected),
        )
    rejections_record(server=server, kind="position", rejected=batch.rejected)
    return {"open": len(rows), "rejected": len(batch.rejected), "calls": batch.calls}


UPDATE_ACCOUNTS = """
UPDATE clients_tradingaccount t SET balance_amount = v.balance, credit_amount = v.credit,
       equity_amount = v.equity, margin_amount = v.margin, margin_free_amount = v.margin_free,
       refreshed_at = now()
  FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[],
              %s::numeric[]) AS v(login, balance, credit, equity, margin, margin_free)
 WHERE t.server_id = %s AND t.login = v.login
"""


def accounts_refresh(*, server: TradingServer, platform: TradingPlatform) -> dict:
    started = timezone.now()
    logins = [a["login"] for a in _accounts(server)]
    batch = platform.accounts_get(logins)
    if batch.records:
        cols = list(
            zip(
                *[
                    (a.login, a.balance, a.credit, a.equity, a.margin, a.margin_free)
                    for a in batch.records
                ],
                strict=True,
            )
        )
        with connection.cursor() as cur:
            cur.execute(UPDATE_ACCOUNTS, [*[list(c) for c in cols], server.pk])
    TradingServer.objects.filter(pk=server.pk).update(accounts_refreshed_at=timezone.now())
    SyncRun.objects.create(
        server=server,
        kind=SyncRun.Kind.ACCOUNTS,
        started_at=started,
        finished_at=timezone.now(),
        calls=batch.calls,
        fetched=len(batch.records),
        ingested=len(batch.records),
        rejected=len(batch.rejected),
    )
    rejections_record(server=server, kind="account", rejected=batch.rejected)
    return {"refreshed": len(batch.records), "calls": batch.calls}


# --- health --------------------------------------------------------------------------------------


def sync_lag_report(now=None) -> dict[str, dict]:
    """Per active server: seconds since everything up to then was ingested, and the last error."""
    from django.conf import settings

    now = now or timezone.now()
    report = {}
    for s in TradingServer.objects.filter(is_active=True).order_by("name"):
        lag = (
            None
            if s.deals_synced_through is None
            else (now - s.deals_synced_through).total_seconds()
        )
        status = "ok"
        if lag is None:
            status = "never synced"
        elif lag > settings.PLATFORM_SYNC_LAG_WARN_SECONDS:
            status = "lagging"
        report[s.name] = {
            "status": status,
            "lag_s": None if lag is None else round(max(lag, 0.0), 1),
            "last_error": s.last_error,
        }
    return report


def sync_health() -> dict[str, dict]:
    """What /healthz (public, for load balancers and monitors) shows: status and lag only; the
    errors, which name hosts and logins, are for the back-office page."""
    return {
        name: {"status": r["status"], "lag_s": r["lag_s"]} for name, r in sync_lag_report().items()
    }


def sync_due_servers() -> list[int]:
    return list(TradingServer.objects.filter(is_active=True).values_list("pk", flat=True))


def rejections_retry(*, rejections: list[SyncRejection]) -> tuple[int, int]:
    """Read refused deals again from their stored payload (after an instrument or an account
    was added): those now readable are ingested and marked resolved. (taken, still refused)."""
    taken = still = 0
    by_server: dict[int, list[SyncRejection]] = {}
    for r in rejections:
        if r.kind == "deal" and r.resolved_at is None:
            by_server.setdefault(r.server_id, []).append(r)
    for server_id, items in by_server.items():
        server = TradingServer.objects.get(pk=server_id)
        platform = platform_for(server)
        by_login = {a["login"]: a for a in _accounts(server)}
        for r in items:
            record = platform.deal_from(r.payload)
            if isinstance(record, Rejected) or record.login not in by_login:
                still += 1
                reason = record.reason if isinstance(record, Rejected) else "login not linked"
                SyncRejection.objects.filter(pk=r.pk).update(reason=reason[:300])
                continue
            deals_ingest(server=server, records=[record], by_login=by_login)
            SyncRejection.objects.filter(pk=r.pk).update(resolved_at=timezone.now())
            taken += 1
    return taken, still


def sync_runs_prune(*, keep_days: int = 14, keep_error_days: int = 90) -> int:
    """Passes run every few seconds: keep two weeks of them (three months of failed ones)."""
    now = timezone.now()
    # a run that found deal revisions stays: the revisions name it
    kept = Exists(DealRevision.objects.filter(sync_run=OuterRef("pk")))
    old = SyncRun.objects.filter(started_at__lt=now - timedelta(days=keep_days), error="")
    old = old.exclude(kept)
    failed = SyncRun.objects.filter(started_at__lt=now - timedelta(days=keep_error_days))
    failed = failed.exclude(kept)
    return old.delete()[0] + failed.delete()[0]
