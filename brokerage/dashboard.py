"""The back-office home is assembled from the panels the apps contribute.

A panel provider, contributed to the `dashboard.panels` hook in its app's `contributions.py`,
takes the user and returns the KPI cards and charts they may see; the kernel does not import
the apps above it (see docs/architecture.md, the apps and their boundaries).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .hooks import DASHBOARD_PANELS, contributions


@dataclass
class Kpi:
    label: str
    value: str | int
    icon: str = "graph-up"
    hint: str = ""
    order: int = 100


@dataclass
class Chart:
    id: str
    title: str
    kind: str  # "line" | "bar" | "doughnut"
    labels: list[str]
    datasets: list[dict]
    order: int = 100


@dataclass
class Panel:
    kpis: list[Kpi] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


Provider = Callable[[object], Panel]  # a `dashboard.panels` contribution: fn(user) -> Panel


def dashboard_for(user) -> Panel:
    panel = Panel()
    for provider in contributions(DASHBOARD_PANELS):
        part = provider(user)
        panel.kpis.extend(part.kpis)
        panel.charts.extend(part.charts)
    panel.kpis.sort(key=lambda k: k.order)
    panel.charts.sort(key=lambda c: c.order)
    return panel
