"""Compliance's part of the compliance dashboard (brokerage.teams): the compliance
workspace's own reads (compliance.workspace), each queue's size, its items past their service
level and their ageing, and the officers' active cases, shown with the dashboards' pieces.
The figures are as they stand now; the workspace and the dashboard read them from one place."""

from __future__ import annotations

from brokerage.rollups import Answer, Figure, Filter, Table, link_for
from brokerage.teams import TeamPart

from .permissions import PERM
from .workspace import AGEING, officer_workload, workspace_queues


def answer_compliance(flt: Filter, user) -> Answer:
    queues = workspace_queues()
    figures = []
    for n, q in enumerate(queues):
        figures.append(
            Figure(
                f"queue_{q.key}",
                q.title,
                q.count,
                None,
                link=link_for(user, (PERM, q.url)),
                group="queues",
                hint=f"Waiting now. Service level: {q.sla}.",
                order=70 + 2 * n,
                now=True,
            )
        )
        figures.append(
            Figure(
                f"queue_{q.key}_breached",
                f"{q.title} past SLA",
                q.breached,
                None,
                link=link_for(user, (PERM, q.breach_url or q.url)),
                group="queues",
                hint=f"Waiting past the service level ({q.sla}), now.",
                order=71 + 2 * n,
                now=True,
            )
        )
    ageing = Table(
        "compliance-ageing",
        "Queues by how long items have waited",
        ["Queue", *(label for _key, label, _s, _e in AGEING), "Past SLA"],
        [[q.title, *(n for _label, n in q.ageing), q.breached] for q in queues],
        [link_for(user, (PERM, q.url)) for q in queues],
        order=70,
    )
    workload = officer_workload()
    officers = Table(
        "compliance-officers",
        "Officers' active cases",
        ["Officer", "Active", "Escalated", "Past deadline"],
        [[w["name"], w["active"], w["escalated"], w["breached"]] for w in workload],
        [link_for(user, (PERM, w["url"])) for w in workload],
        order=71,
        personal={"Officer": [w["assigned_to"] for w in workload]},
    )
    return Answer(figures, [], [ageing, officers])


COMPLIANCE = TeamPart("compliance", answer_compliance, frozenset(), 70)
