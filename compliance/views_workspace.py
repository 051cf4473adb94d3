"""The compliance workspace, compliance's home page: every queue with its size, ageing and
items past their service level, the officers' workload, and links to the lists that work them
(the AML alerts, the scenarios and the alerts-by-scenario chart where monitoring's pages are
installed)."""

from django.shortcuts import render

from brokerage.permissions import staff_required

from .permissions import PERM
from .workspace import AGEING, officer_workload, url_or_blank, workspace_queues


@staff_required(PERM)
def workspace(request):
    return render(
        request,
        "compliance/workspace.html",
        {
            "queues": workspace_queues(),
            "ageing": [label for _key, label, _s, _e in AGEING],
            "workload": officer_workload(),
            "monitoring_links": [
                (label, link)
                for label, link in [
                    ("Alerts by scenario", url_or_blank("compliance:aml_alerts_chart")),
                    ("Scenarios and backtests", url_or_blank("compliance:scenarios")),
                ]
                if link
            ],
        },
    )
