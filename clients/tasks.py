"""Clients' Celery tasks (queue `sync`): trading platform sync, retention flags. Thin: ids in,
a service call out."""

from celery import shared_task

from . import sync


@shared_task(acks_late=True, time_limit=900, soft_time_limit=870)
def platform_sync_task(server_id: int) -> dict:
    return sync.server_sync(server_id=server_id)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def platform_sync_all_task() -> int:
    """Beat: one sync pass per active server (each pass skips itself if one is running)."""
    ids = sync.sync_due_servers()
    for server_id in ids:
        platform_sync_task.delay(server_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=900, soft_time_limit=870)
def deals_review_task(server_id: int) -> dict:
    """Read the server's recent deals again: those its dealers corrected or deleted are
    revised (`clients.deal_review`)."""
    from .deal_review import deals_review_run

    return deals_review_run(server_id=server_id)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def deals_review_all_task() -> int:
    """Beat: one deals review per active server that has one."""
    from .deal_review import deals_review_due_servers

    ids = deals_review_due_servers()
    for server_id in ids:
        deals_review_task.delay(server_id)
    return len(ids)


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1740)
def retention_flags_task() -> dict:
    """Beat, daily: flag funded clients gone quiet, refresh open flags, clear the active again."""
    from .retention.services import retention_flags_run

    return retention_flags_run()


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def retention_flags_clear_task(client_ids: list[int]) -> int:
    """Clearing the sync could not do while a daily run held the retention lock."""
    from .retention.services import retention_flags_clear_on_trade

    return retention_flags_clear_on_trade(client_ids=client_ids, actor="rule:platform-sync")


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def sync_runs_prune_task() -> int:
    return sync.sync_runs_prune()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=290)
def account_openings_resolve_task() -> dict:
    """Openings whose answer was lost: linked when the platform has the account, else failed."""
    from .trading.services import account_openings_resolve

    return account_openings_resolve()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def access_records_purge_task() -> int:
    """Beat, daily: sign-in records past CLIENT_ACCESS_RETENTION_DAYS."""
    from .access import access_records_purge

    return access_records_purge()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=290)
def platform_reach_task(account_ids: list[int]) -> dict:
    """Bring these trading accounts in step with their clients' standing on the platform."""
    from .trading.reach import trading_account_reconcile

    counts = {"done": 0, "unchanged": 0, "failed": 0}
    for account_id in account_ids:
        counts[trading_account_reconcile(account=account_id)] += 1
    return counts


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def leverage_sweep_task() -> int:
    """Beat, nightly: every live account above its client's leverage cap (or lowered below
    one that has since risen) is marked for the platform reach."""
    from .trading.sweep import leverage_book_sweep

    return len(leverage_book_sweep(reason="nightly leverage sweep"))


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def platform_reach_sweep_task() -> dict:
    """Beat: accounts still due (a task lost, a platform down) are reconciled again."""
    from .trading.reach import platform_reach_sweep

    return platform_reach_sweep()


@shared_task(acks_late=True, time_limit=300, soft_time_limit=290)
def terms_announce_task(version_id: int) -> int:
    """A new version of the terms clients must accept again: one batch task per
    ANNOUNCE_BATCH clients still to be told; returns how many batches were queued."""
    from .terms import terms_announce_batches

    batches = terms_announce_batches(version_id=version_id)
    for first, last in batches:
        terms_announce_batch_task.delay(version_id, first, last)
    return len(batches)


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def terms_announce_batch_task(version_id: int, first: int, last: int) -> int:
    """Email the clients of one batch (ids `first` to `last`) not yet told of the version."""
    from .terms import terms_announce_batch

    return terms_announce_batch(version_id=version_id, first=first, last=last)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def terms_announce_sweep_task() -> int:
    """Beat: a recent version some client was not told of (a lost task) is announced again."""
    from .terms import terms_announce_sweep

    ids = terms_announce_sweep()
    for version_id in ids:
        terms_announce_task.delay(version_id)
    return len(ids)
