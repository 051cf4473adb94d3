"""Finance's part of the finance dashboard (brokerage.teams): the leadership's money figures,
then each PSP's success and decline rates (from `finance_rollup_psp`, finance.models_rollups.
PspDay, a rollup of its own), the chargeback ratio and where reconciliation stands per PSP.

A deposit started on a day counts on that day: completed, failed (the PSP declined it) or
expired, or still open. Success rate = completed / (completed + failed + expired); decline
rate = failed / the same. Chargeback ratio = chargebacks opened / deposits completed in the
period (the card schemes' measure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.urls import reverse

from brokerage.rollups import (
    Answer,
    Figure,
    Filter,
    Rollup,
    Table,
    day_in,
    fetch,
    link_for,
    period_sums,
    replace_rows,
    select_list,
    touched_days,
)
from brokerage.teams import TeamPart

from . import rollups as money
from .models_reconciliation import ReconciliationRun
from .psp import PSP_NAMES

TABLE = "finance_rollup_psp"

_INSERT = """
INSERT INTO finance_rollup_psp (day, desk_id, psp, country, started, completed, failed, expired)
SELECT (d.created_at AT TIME ZONE 'UTC')::date, c.desk_id, d.psp, c.country, count(*),
       count(*) FILTER (WHERE d.status = 'completed'),
       count(*) FILTER (WHERE d.status = 'failed'),
       count(*) FILTER (WHERE d.status = 'expired')
  FROM finance_deposit d
  JOIN clients_client c ON c.id = d.client_id AND c.holder = 'client'
 WHERE {deposits}
 GROUP BY 1, 2, 3, 4
"""


def rebuild(days: list[date] | None) -> None:
    where, params = day_in("d.created_at", days)
    replace_rows(TABLE, _INSERT.format(deposits=where), params, days)


def touched(since: datetime) -> set[date]:
    """The days of deposits started, or whose status changed (their history), since."""
    return touched_days(
        """SELECT (created_at AT TIME ZONE 'UTC')::date AS day FROM finance_deposit
            WHERE created_at >= %(since)s OR completed_at >= %(since)s
           UNION SELECT (created_at AT TIME ZONE 'UTC')::date FROM finance_historicaldeposit
            WHERE history_date >= %(since)s""",
        {"since": since},
    )


HONOURS = money.HONOURS
_SUMS = {name: f"sum({name})" for name in ("started", "completed", "failed", "expired")}


def _rate(part, rows: dict, prefix: str = "") -> Decimal | None:
    ended = sum(rows[f"{prefix}{k}"] or 0 for k in ("completed", "failed", "expired"))
    return Decimal(rows[f"{prefix}{part}"] or 0) * 100 / ended if ended else None


def _ratio(part, whole) -> Decimal | None:
    return Decimal(part or 0) * 100 / whole if whole else None


def _reconciliation() -> list[dict]:
    """Each PSP's latest reconciliation run and its differences not yet explained."""
    return fetch(
        """SELECT DISTINCT ON (r.psp) r.id, r.psp, r.period_start, r.period_end, r.status,
                  (SELECT count(*) FROM finance_reconciliationitem i
                    WHERE i.run_id = r.id AND i.resolved_at IS NULL) AS open_items
             FROM finance_reconciliationrun r ORDER BY r.psp, r.created_at DESC, r.id DESC""",
        {},
    )


def answer_finance(flt: Filter, user) -> Answer:
    answer = money.answer(flt, user)  # deposits, withdrawals, net: the leadership's figures
    where, params = flt.where(HONOURS)
    t = period_sums(TABLE, where, params, _SUMS)
    cb = period_sums(
        money.CARDS.table,
        where,
        params,
        {"cb": "sum(chargeback_count)", "dep": "sum(deposit_count)"},
    )
    by_psp = fetch(
        f"SELECT psp, {select_list(_SUMS)} FROM {TABLE} WHERE {where} AND day >= %(start)s "
        "GROUP BY psp ORDER BY sum(started) DESC, psp",
        params,
    )
    runs = _reconciliation()
    deposits = reverse("finance:deposits")
    lists = reverse("finance:reconciliations")

    def deposits_link(**extra) -> str:
        query = money.drill_query(flt, ("created_from", "created_to"), **extra)
        return link_for(user, (money.VIEW, f"{deposits}?{query}"))

    open_items = sum(r["open_items"] for r in runs)
    answer.figures += [
        Figure(
            "psp_success",
            "PSP success rate",
            _rate("completed", t),
            _rate("completed", t, "prev_"),
            "pct",
            deposits_link(status="completed"),
            "psp",
            "Deposits started in the period that completed, of those that ended.",
            50,
        ),
        Figure(
            "psp_declines",
            "PSP decline rate",
            _rate("failed", t),
            _rate("failed", t, "prev_"),
            "pct",
            deposits_link(status="failed"),
            "psp",
            "Deposits started in the period that the PSP declined, of those that ended.",
            51,
        ),
        Figure(
            "chargeback_ratio",
            "Chargeback ratio",
            _ratio(cb["cb"], cb["dep"]),
            _ratio(cb["prev_cb"], cb["prev_dep"]),
            "pct",
            link_for(user, (money.VIEW, reverse("finance:chargebacks"))),
            "psp",
            "Chargebacks opened in the period per 100 deposits completed in it.",
            52,
        ),
        Figure(
            "reconciliation_open",
            "Unexplained differences",
            open_items,
            None,
            link=link_for(user, ("finance.reconcile", lists)),
            group="psp",
            hint="Differences not yet explained on each PSP's latest reconciliation, now.",
            order=53,
            now=True,
        ),
    ]
    status = dict(ReconciliationRun.Status.choices)
    answer.tables += [
        Table(
            "psp-success",
            "PSPs: success and declines",
            ["PSP", "Started", "Completed", "Declined", "Success %", "Decline %", "Expired"],
            [
                [
                    PSP_NAMES.get(r["psp"], r["psp"]),
                    r["started"],
                    r["completed"],
                    r["failed"],
                    _rate("completed", r),
                    _rate("failed", r),
                    r["expired"],
                ]
                for r in by_psp
            ],
            [deposits_link(psp=r["psp"]) for r in by_psp],
            order=50,
        ),
        Table(
            "reconciliation-status",
            "Reconciliation by PSP",
            ["PSP", "Latest period", "Status", "Unexplained differences"],
            [
                [
                    PSP_NAMES.get(r["psp"], r["psp"]),
                    f"{r['period_start']:%d %b} – {r['period_end']:%d %b %Y}",
                    status.get(r["status"], r["status"]),
                    r["open_items"],
                ]
                for r in runs
            ],
            [
                link_for(
                    user, ("finance.reconcile", reverse("finance:reconciliation", args=[r["id"]]))
                )
                for r in runs
            ],
            order=51,
        ),
    ]
    return answer


PSP_ROLLUP = Rollup(
    "psp", "PSPs", (TABLE,), rebuild, touched, lambda flt, user: Answer(), HONOURS, 25
)
FINANCE = TeamPart("finance", answer_finance, HONOURS, 20)
