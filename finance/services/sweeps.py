"""The sweeper of PSP operations left unfinished (beat: `payouts_sweep_task`, every minute).

Contract: re-queues, by id, the payouts and refunds a worker never started or whose claim went
stale (`brokerage.operations.sweep`); the queued task claims again and looks a resumed
operation up before it ever sends it. Sits beside `webhooks` at the top of finance's services.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .refunds import refunds_sweep
from .withdrawals import withdrawals_sweep


def payouts_sweep(*, stale_after: timedelta | None = None) -> int:
    """Re-queue approved withdrawals and refunds whose payout never started or never finished."""
    now = timezone.now()
    return withdrawals_sweep(stale_after=stale_after, now=now) + refunds_sweep(
        stale_after=stale_after, now=now
    )
