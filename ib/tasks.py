"""IB commission tasks (queue `commissions`): pay a sync pass's new deals, and sweep."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .client_rules import cpa_clawback, cpa_pay
from .engine import commissions_pay
from .links import link_clicks_prune
from .revisions import revision_pay, revisions_sweep

SWEEP_HOURS = 48


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def commissions_pay_task(deal_ids: list[int]) -> dict:
    """Pay the deals a sync pass just stored (lines are unique: a repeat writes nothing), and
    the CPA of their clients that these deals qualify."""
    result = commissions_pay(deal_ids=deal_ids)
    result["cpa"] = cpa_pay(deal_ids=deal_ids)
    return result


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1790)
def commissions_sweep_task(hours: int = SWEEP_HOURS) -> dict:
    """Pay whatever the per-pass task missed (a lost task, a plan fixed for unpriced deals)."""
    now = timezone.now()
    result = commissions_pay(start=now - timedelta(hours=hours), end=now + timedelta(minutes=1))
    result["cpa"], result["clawbacks"] = cpa_pay(), cpa_clawback()
    result["revisions"] = revisions_sweep(hours=hours)
    return result


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def revision_pay_task(revision_ids: list[int]) -> list[dict]:
    """Reverse and pay again the commissions of deals the platform corrected or removed
    (`ib.revisions`; idempotent: a repeat writes nothing)."""
    return [revision_pay(revision_id=pk) for pk in revision_ids]


@shared_task(acks_late=True, time_limit=600, soft_time_limit=590)
def link_clicks_prune_task() -> int:
    """Delete campaign-link click rows past the counting window (`ib.links`)."""
    return link_clicks_prune()


def pay_revised_deals(revision_ids: list[int]) -> None:
    """The platform corrected or removed deals (the kernel's `platform.deals_revised` hook):
    reverse and pay their commissions again once it commits."""
    revision_pay_task.delay_on_commit(list(revision_ids))


def pay_synced_deals(deal_ids: list[int]) -> None:
    """A sync pass stored new deals (the kernel's `platform.deals_synced` hook): pay their
    commissions once it commits."""
    commissions_pay_task.delay_on_commit(list(deal_ids))
