"""The compliance workspace, compliance's home page: every queue with its size, ageing and
items past their service level, the officers' workload, and links to the lists that work them
(the AML alerts, and the scenarios with their editor, backtests and the alerts-by-scenario
chart)."""

from django.shortcuts import render

from brokerage.permissions import staff_required

from .permissions import PERM
from .workspace import AGEING, officer_workload, workspace_queues


@staff_required(PERM)
def workspace(request):
    return render(
        request,
        "compliance/workspace.html",
        {
            "queues": workspace_queues(),
            "ageing": [label for _key, label, _s, _e in AGEING],
            "workload": officer_workload(),
        },
    )
