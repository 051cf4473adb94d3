"""Retention signals finance owns: a client whose withdrawal failed recently is at risk (the
retention queue explains why, and the outreach offers to fix the payment)."""

from datetime import timedelta

from brokerage.money import format_money

from .models import Withdrawal

FAILED_WITHIN = timedelta(days=30)


def failed_withdrawals(client_ids: list[int], now) -> dict[int, str]:
    """{client_id: detail} for clients with a payout that failed in the last 30 days (the latest
    one, and how many if more): one query over the candidate set."""
    rows = (
        Withdrawal.objects.filter(
            client_id__in=client_ids,
            status=Withdrawal.Status.FAILED,
            completed_at__gte=now - FAILED_WITHIN,
            completed_at__lte=now,
        )
        .order_by("client_id", "-completed_at", "-pk")
        .values_list("client_id", "amount", "currency", "completed_at", "failure_reason")
    )
    out: dict[int, str] = {}
    counts: dict[int, int] = {}
    for client_id, amount, currency, at, reason in rows.iterator(chunk_size=2000):
        counts[client_id] = counts.get(client_id, 0) + 1
        if client_id in out:
            continue
        detail = f"Withdrawal of {format_money(amount, currency)} failed on {at.day} {at:%b}"
        out[client_id] = f"{detail}: {reason}" if reason else detail
    for client_id, n in counts.items():
        if n > 1:
            out[client_id] += f" ({n} failed in 30 days)"
    return out
