"""Per-team dashboards: the leadership workspace's pieces (figures with the change against the
previous period, charts, tables, the filter, a link from each figure to the records behind
it) arranged for the people who lead one team, on `/backoffice/dashboards/<team>/`.

The kernel names the teams and who may open each (`TEAMS`); each app contributes its parts
of a team's page to the `dashboards.team` hook as a `TeamPart`, in its `contributions.py`, as
it contributes its rollups: a part answers for a `Filter` and the user, from a fixed number of
queries, and names the filters it can honour. A part may reuse an app's own reads (the
compliance workspace's queues reach the compliance dashboard this way), so a figure is
computed in one place whichever page shows it.

A table's columns and rows are its `Table` (brokerage.rollups): the page shows it, and an
export can read the same object (`team_answer(...).tables`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .hooks import TEAM_PARTS, contributions
from .rollups import Answer, Filter, merge_answers


@dataclass(frozen=True)
class Team:
    slug: str
    title: str
    subtitle: str
    permission: str  # who may open the page (executives hold every one)
    # Desk managers lead desks: on a team led by desk, they see the desks they manage or sit
    # on; on the others, whoever may open the page sees every desk.
    by_desk: bool = False
    filters: tuple[str, ...] = ("desk", "country", "psp", "ib")
    icon: str = "speedometer2"
    dated: bool = True  # False: its figures are as they stand now (no period to choose)


TEAMS: dict[str, Team] = {
    t.slug: t
    for t in [
        Team(
            "sales",
            "Sales",
            "Agents' leads, first contact and conversion",
            "brokerage.view_sales_dashboard",
            by_desk=True,
            filters=("desk", "country", "ib"),
            icon="telephone",
        ),
        Team(
            "retention",
            "Retention",
            "Flags, reactivations and clients lost, by desk and agent",
            "brokerage.view_retention_dashboard",
            by_desk=True,
            filters=("desk", "country"),
            icon="arrow-repeat",
        ),
        Team(
            "finance",
            "Finance",
            "Money in and out, PSPs' success and declines, chargebacks, reconciliation",
            "brokerage.view_finance_dashboard",
            filters=("desk", "country", "psp"),
            icon="cash-coin",
        ),
        Team(
            "compliance",
            "Compliance",
            "Every queue compliance works, its ageing and service-level breaches",
            "brokerage.view_compliance_dashboard",
            filters=(),
            dated=False,
            icon="shield-check",
        ),
        Team(
            "dealing",
            "Dealing",
            "Exposure per symbol from open positions; clients winning and losing",
            "brokerage.view_dealing_dashboard",
            filters=("desk", "country"),
            icon="graph-up-arrow",
        ),
    ]
}


@dataclass(frozen=True)
class TeamPart:
    """An app's part of a team's page: `answer(flt, user)` as a rollup answers, `honours` the
    filters its figures can be split by (the others are named as not applying)."""

    team: str
    answer: Callable[[Filter, object], Answer]
    honours: frozenset[str] = frozenset()
    order: int = 100


def team_parts(team: str) -> list[TeamPart]:
    return [p for p in contributions(TEAM_PARTS) if p.team == team]


def teams_for(user) -> list[Team]:
    """The team dashboards `user` may open."""
    return [t for t in TEAMS.values() if user.has_perm(t.permission)]


def team_answer(team: str, flt: Filter, user) -> Answer:
    """Every part of `team`'s page for `flt`, each marked with the filters it cannot honour."""
    return merge_answers(((p.answer, p.honours) for p in team_parts(team)), flt, user)
