"""Real-time monitoring: one money row just committed (or, for a withdrawal, is being
requested), every live scenario its kind concerns, for its client only.

Contract:
- `evaluate(kind, pk, as_of=None) -> Outcome`: finds each concerned live version's hits for
  the row's client as of now or `as_of` (the typologies' statements narrowed to one client),
  writes them as alerts (`record`), marks the row evaluated (`Evaluation`), all in one
  transaction under the client's row lock (evaluations of one client queue; a repeated task
  finds nothing new). `Outcome.holds` are the hits whose score reaches their version's hold score.
- `evaluate_transaction(kind, pk, as_of=None) -> list[Alert]`: the same, the alerts only (the
  task, the benchmark and the cases call it).
- A withdrawal is evaluated inside its request (`withdrawal_reasons`, through the kernel's
  `money.moved` hook): a hold becomes a review reason of finance's own withdrawal checks, so
  the withdrawal waits in finance review for an officer and no payout can leave before its
  evaluation has run. The other kinds are evaluated by `evaluate_transaction_task` on the
  `compliance` queue once their row commits; `evaluation_sweep` evaluates any row whose task
  was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from brokerage.services import audit_record
from clients.locks import lock_client

from . import audit_events
from .models import AlertAction, Evaluation, ScenarioVersion, VersionStatus
from .record import MONITORING_ACTOR, record_hits
from .typologies import Hit, find

# Which typologies a money row of each kind can complete (a deposit cannot complete a
# withdrawal's pattern; mirror trading is about deals and runs nightly).
KIND_SCENARIOS: dict[str, tuple[str, ...]] = {
    "deposit": (
        "structuring",
        "velocity",
        "third_party_funding",
        "beyond_declared",
        "high_risk_country",
        "psp_switching",
        "dormant_reactivation",
    ),
    "withdrawal": (
        "quick_in_out",
        "structuring",
        "high_risk_country",
        "psp_switching",
        "dormant_reactivation",
    ),
    "transfer": ("quick_in_out", "dormant_reactivation"),
    "refund": ("chargeback_ratio",),
    "chargeback": ("chargeback_ratio",),
}

CLIENT_OF = {
    "deposit": "SELECT client_id FROM finance_deposit WHERE id = %s",
    "withdrawal": "SELECT client_id FROM finance_withdrawal WHERE id = %s",
    "transfer": "SELECT client_id FROM finance_transfer WHERE id = %s",
    "refund": "SELECT d.client_id FROM finance_refund r "
    "JOIN finance_deposit d ON d.id = r.deposit_id WHERE r.id = %s",
    "chargeback": "SELECT d.client_id FROM finance_chargeback c "
    "JOIN finance_deposit d ON d.id = c.deposit_id WHERE c.id = %s",
}


@dataclass
class Outcome:
    client_id: int | None
    alerts: list = field(default_factory=list)
    holds: list[tuple[ScenarioVersion, Hit]] = field(default_factory=list)


def _client_of(kind: str, pk: int) -> int | None:
    if kind not in CLIENT_OF:
        raise ValueError(f"Not a money row kind: {kind!r}; one of {sorted(CLIENT_OF)}.")
    with connection.cursor() as cursor:
        cursor.execute(CLIENT_OF[kind], [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    # The client's row lock (`clients.locks`, after the money row the caller may hold): one
    # evaluation of a client at a time; its alerts are locked after it.
    return lock_client(row[0]).pk


def live_versions(codes) -> list[ScenarioVersion]:
    return list(
        ScenarioVersion.objects.filter(status=VersionStatus.LIVE, scenario__code__in=codes)
        .select_related("scenario")
        .order_by("scenario_id")
    )


@transaction.atomic
def evaluate(kind: str, pk: int, *, as_of=None) -> Outcome:
    with connection.cursor() as cursor:
        # One client's statements read a few rows by index; the planner's whole-book estimate
        # of the CTEs could start JIT compilation, which takes longer than they run.
        cursor.execute("SET LOCAL jit = off")
    client_id = _client_of(kind, pk)
    if client_id is None:
        return Outcome(None)
    now = timezone.now()
    as_of = as_of or now
    outcome = Outcome(client_id)
    for version in live_versions(KIND_SCENARIOS[kind]):
        hits = find(version.scenario.code, version.params, as_of=as_of, client_id=client_id)
        outcome.alerts += record_hits(version, hits)
        outcome.holds += [
            (version, h) for h in hits if version.action_for(h.score) == AlertAction.HOLD
        ]
    # One statement (INSERT ... ON CONFLICT DO UPDATE): a repeated task overwrites its row.
    Evaluation.objects.bulk_create(
        [
            Evaluation(
                kind=kind,
                object_id=pk,
                client_id=client_id,
                evaluated_at=now,
                held=bool(outcome.holds),
            )
        ],
        update_conflicts=True,
        unique_fields=["kind", "object_id"],
        update_fields=["client", "evaluated_at", "held"],
    )
    return outcome


def evaluate_transaction(kind: str, pk: int, *, as_of=None) -> list:
    """Every live scenario `kind` concerns, for the client of money row `pk` (as of now, or
    `as_of`): the alerts raised or given evidence."""
    return evaluate(kind, pk, as_of=as_of).alerts


def withdrawal_reasons(withdrawal_id: int) -> list[dict]:
    """The review reasons AML monitoring adds to a withdrawal's checks, evaluated in its
    request's transaction: one per scenario that holds it. A failure to evaluate sends the
    withdrawal to review too (it never pays out unevaluated), and says so."""
    try:
        with transaction.atomic():
            outcome = evaluate("withdrawal", withdrawal_id)
            if outcome.holds:
                audit_record(
                    actor=MONITORING_ACTOR,
                    action=audit_events.WITHDRAWAL_HELD,
                    target=("finance.withdrawal", withdrawal_id),
                    subject=outcome.client_id,
                    reason="; ".join(v.scenario.name for v, _ in outcome.holds),
                    evidence={
                        "scenarios": [v.scenario.code for v, _ in outcome.holds],
                        "scores": [h.score for _, h in outcome.holds],
                        "alerts": [a.pk for a in outcome.alerts],
                    },
                )
    except Exception:  # noqa: BLE001 - any failure: review, never an unevaluated payout
        import logging

        logging.getLogger(__name__).exception("AML monitoring of withdrawal %s", withdrawal_id)
        return [
            {
                "code": "aml_unevaluated",
                "severity": "review",
                "message": "AML monitoring could not evaluate this withdrawal; a compliance "
                "officer should look before it is paid.",
            }
        ]
    from .explain import explain

    return [
        {
            "code": "aml_hold",
            "severity": "review",
            "message": f"AML monitoring holds it ({v.scenario.name}, score {h.score}): "
            + explain(v.scenario.code, h, v.params),
        }
        for v, h in outcome.holds
    ]
