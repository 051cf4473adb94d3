"""Money rows whose real-time evaluation never ran (a lost task, a broker down at commit):
found from database state and evaluated again through the task."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

# Rows older than this were read by the nightly batch anyway; younger than `GRACE`, their
# task may still be on its way.
LOOKBACK = timedelta(hours=24)
GRACE = timedelta(minutes=2)

UNEVALUATED = """
SELECT 'deposit', d.id FROM finance_deposit d
 WHERE d.status = 'completed' AND d.completed_at > %(since)s AND d.completed_at <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM aml_evaluation e WHERE e.kind = 'deposit' AND e.object_id = d.id)
UNION ALL
SELECT 'transfer', t.id FROM finance_transfer t
 WHERE t.status = 'completed' AND t.completed_at > %(since)s AND t.completed_at <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM aml_evaluation e WHERE e.kind = 'transfer' AND e.object_id = t.id)
UNION ALL
SELECT 'refund', r.id FROM finance_refund r
 WHERE r.created_at > %(since)s AND r.created_at <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM aml_evaluation e WHERE e.kind = 'refund' AND e.object_id = r.id)
UNION ALL
SELECT 'chargeback', c.id FROM finance_chargeback c
 WHERE c.opened_at > %(since)s AND c.opened_at <= %(until)s
   AND NOT EXISTS (SELECT 1 FROM aml_evaluation e WHERE e.kind = 'chargeback'
                   AND e.object_id = c.id)
"""


def unevaluated(now=None) -> list[tuple[str, int]]:
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(UNEVALUATED, {"since": now - LOOKBACK, "until": now - GRACE})
        return [(kind, pk) for kind, pk in cursor.fetchall()]


def evaluation_sweep(now=None) -> int:
    """Queue the evaluation of every money row of the last day that has none."""
    from .tasks import evaluate_transaction_task

    rows = unevaluated(now)
    for kind, pk in rows:
        evaluate_transaction_task.delay(kind, pk)
    return len(rows)
