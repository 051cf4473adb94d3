"""The deals review: find the deals a platform's dealer corrected or deleted after we stored them.

The sync stores each deal once, when it first appears. A dealer may later correct a deal on the
platform (its volume, price, profit, symbol ...) or delete it, and the sync would never learn
it. So, per server and on a schedule (beat, queue `sync`), the review reads again what the
platform reports for the last `deals_review_days` days, account batch by account batch, and
compares it with the stored deals by ticket:

- a stored deal the platform reports with a difference in a field that matters (`FIELDS`) is
  *corrected*: a `DealRevision` keeps the values before and after, and the deal takes the
  platform's values;
- a stored deal inside the window the platform answered for, that the answer lacks, is looked
  up by its ticket (`deal_get`): the platform saying it does not exist makes it *removed* (a
  revision, and `removed_at`: the deal stays, commission lines reference it); the platform
  still reporting it (e.g. its time was moved out of the window) compares it as above.

Only what the platform answered counts: a batch that failed, a deal the adapter could not read,
an account not asked about (not active, or beyond the batches read before a failure) or a deal
outside the window marks nothing. Each revision is written with an `AuditEvent` in the same
transaction, once (the deal's row is locked and compared again), and the apps above are told
after commit (`platform.deals_revised`: ib reverses and pays the deal's commissions again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from brokerage.hooks import DEALS_REVISED, contributions
from brokerage.services import audit_record

from . import audit_events
from .models import Deal, DealRevision, SyncRun, TradingAccount, TradingServer
from .platforms import DealRecord, PlatformError, TradingPlatform
from .selectors import deal_revision_summary
from .sync import _accounts, server_held

log = logging.getLogger(__name__)

ACTOR = "rule:deals-review"
# The stored field and the platform record's attribute of each field that matters.
FIELDS = {
    "symbol": "symbol",
    "action": "action",
    "entry": "entry",
    "volume": "volume",
    "volume_ext": "volume_ext",
    "price": "price",
    "profit_amount": "profit",
    "swap_amount": "swap",
    "commission_amount": "commission",
    "position_id": "position_id",
    "time": "time",
}


def _plain(value):
    """A field's value as JSON keeps it (exact: decimals and times as text)."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"  # 1.10000000 -> "1.1"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _same(a, b) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def differences(stored: dict, record: DealRecord) -> list[str]:
    """The fields that matter whose stored value is not the platform's."""
    return [f for f, attr in FIELDS.items() if not _same(stored[f], getattr(record, attr))]


def deals_review_run(*, server_id: int, platform: TradingPlatform | None = None) -> dict:
    """A review of one server, holding the server's review lock (one review of a server at a
    time; a server being reviewed is reviewed again at the next beat). Sync passes go on beside
    it: a review reads days of deals, one lookup per deal the platform no longer reports, and
    would hold the new deals up for that long; the deals both touch are locked row by row."""
    with server_held(server_id, platform, purpose="review") as (server, platform, problem):
        if server is None:
            return {"skipped": problem}
        if platform is None:
            return {"error": problem.message}
        return deals_review(server=server, platform=platform)


def deals_review_due_servers() -> list[int]:
    return list(
        TradingServer.objects.filter(is_active=True, deals_review_days__gt=0).values_list(
            "pk", flat=True
        )
    )


def deals_review(*, server: TradingServer, platform: TradingPlatform, now=None) -> dict:
    """Review the server's last `deals_review_days` days of deals (see the module). Returns
    {"corrected", "removed", "fetched", "calls"} or {"skipped": why}."""
    started = timezone.now()
    now = now or started
    if not server.deals_review_days:
        return {"skipped": "the deals review is off for this server"}
    if server.deals_synced_through is None:
        return {"skipped": "nothing synced yet"}
    since = now - timedelta(days=server.deals_review_days)
    until = min(now, server.deals_synced_through)  # later deals are the sync's, not stored yet
    run = SyncRun.objects.create(
        server=server, kind=SyncRun.Kind.REVIEW, started_at=started, window_from=since,
        window_to=until,
    )  # fmt: skip
    found = {"corrected": 0, "removed": 0, "fetched": 0, "calls": 0}
    accounts = _accounts(server)
    step = max(1, server.batch_size)
    error = ""
    try:
        for i in range(0, len(accounts), step):
            part = accounts[i : i + step]
            batch = platform.deals(logins=[a["login"] for a in part], since=since, until=until)
            found["calls"] += batch.calls
            found["fetched"] += len(batch.records) + len(batch.rejected)
            answered = _compare(server, platform, part, batch, since, until)
            for kind, deal_id, record, changed in answered:
                if deal_revise(deal_id=deal_id, record=record, changed=changed, run=run):
                    found[kind] += 1
    except PlatformError as exc:  # what was answered before counts; the rest marks nothing
        error = exc.message
        log.warning("deals review of %s failed: %s", server.name, error)
    SyncRun.objects.filter(pk=run.pk).update(
        finished_at=timezone.now(),
        calls=found["calls"],
        fetched=found["fetched"],
        ingested=found["corrected"] + found["removed"],
        error=error[:2000],
    )
    if error:
        found["error"] = error
    return found


def _compare(server, platform, accounts, batch, since, until):
    """(kind, deal id, platform record or None, changed fields) for each stored deal of these
    accounts the platform's answer contradicts."""
    by_account = {a["id"] for a in accounts}
    logins = {a["login"] for a in accounts}
    reported = {r.ticket: r for r in batch.records if r.login in logins}
    unreadable = {r.ticket for r in batch.rejected if r.ticket is not None}
    stored = (
        Deal.objects.filter(server=server, account_id__in=by_account, removed_at__isnull=True)
        .filter(Q(time__gte=since, time__lte=until) | Q(ticket__in=list(reported)))
        .values("id", "ticket", *FIELDS)
    )
    for row in stored:
        ticket = row["ticket"]
        if ticket in unreadable:
            continue
        record = reported.get(ticket)
        if record is None:
            record = _look_up(server, platform, ticket)
            if record is False:
                continue  # the platform could not tell: nothing is marked
            if record is None:
                yield "removed", row["id"], None, list(FIELDS)
                continue
        changed = differences(row, record)
        if changed:
            yield "corrected", row["id"], record, changed


def _look_up(server, platform, ticket):
    """The platform's deal by ticket: a DealRecord, None when it answers the deal does not
    exist, False when it cannot tell (an error, an unreadable record, no such call)."""
    try:
        record = platform.deal_get(ticket)
    except (PlatformError, NotImplementedError) as exc:
        log.warning("deals review: deal %s of %s not looked up: %s", ticket, server.name, exc)
        return False
    if record is not None and not isinstance(record, DealRecord):
        return False
    return record


@transaction.atomic
def deal_revise(*, deal_id: int, record: DealRecord | None, changed: list[str], run=None) -> bool:
    """Record that the platform corrected (`record`: its values now) or removed (`record`
    None) the deal: a `DealRevision`, the deal's new values, an audit event; the apps above
    are told after commit. False when the deal already stands so (another pass did it)."""
    deal = Deal.objects.select_for_update().get(pk=deal_id)
    if deal.removed_at is not None:
        return False
    before = {f: getattr(deal, f) for f in FIELDS}
    if record is not None:
        changed = differences(before, record)
        if not changed:
            return False
    now = timezone.now()
    kind = DealRevision.Kind.REMOVED if record is None else DealRevision.Kind.CORRECTED
    after = None if record is None else {f: getattr(record, a) for f, a in FIELDS.items()}
    revision = DealRevision.objects.create(
        deal=deal,
        number=deal.revision + 1,
        kind=kind,
        before={f: _plain(v) for f, v in before.items()},
        after=None if after is None else {f: _plain(v) for f, v in after.items()},
        changed=changed if record is not None else [],
        detected_at=now,
        sync_run=run,
    )
    deal.revision = revision.number
    if record is None:
        deal.removed_at = now
    else:
        for f, value in after.items():
            setattr(deal, f, value)
    deal.save(update_fields=["revision", "removed_at", *FIELDS])
    _totals_move(deal.account_id, before, after)
    audit_record(
        actor=ACTOR,
        action=(audit_events.DEAL_REMOVED if record is None else audit_events.DEAL_CORRECTED),
        target=deal,
        subject=deal.client,
        reason=deal_revision_summary(revision),
        evidence={
            "ticket": deal.ticket,
            "server": deal.server_id,
            "revision": revision.number,
            "before": revision.before,
            "after": revision.after,
            "changed": revision.changed,
        },
    )
    ids = [revision.pk]
    transaction.on_commit(lambda: _deals_revised(ids))
    return True


def _totals(values: dict | None) -> dict:
    """What one deal adds to its account's running trading figures (the deal-insert trigger's
    arithmetic, migration clients 0007)."""
    out = dict.fromkeys(TOTALS, 0)
    if values is None or values["action"] not in (0, 1):
        return out
    net = values["profit_amount"] + values["swap_amount"] + values["commission_amount"]
    out["trade_deals"], out["realized_pl_amount"] = 1, net
    if values["entry"] in (1, 2, 3):
        out["closed_trades"], out["closed_volume"] = 1, values["volume"]
        out["won_trades"] = 1 if net > 0 else 0
    return out


TOTALS = ("trade_deals", "closed_trades", "won_trades", "closed_volume", "realized_pl_amount")


def _totals_move(account_id: int, before: dict, after: dict | None) -> None:
    """The account's running figures take the deal as it now stands (or without it)."""
    old, new = _totals(before), _totals(after)
    change = {k: F(k) + (new[k] - old[k]) for k in TOTALS if new[k] != old[k]}
    if change:
        TradingAccount.objects.filter(pk=account_id).update(**change)


def _deals_revised(revision_ids: list[int]) -> None:
    for fn in contributions(DEALS_REVISED):
        try:
            fn(revision_ids)
        except Exception:
            log.exception("a deals-revised contribution failed; its sweeper will catch up")
