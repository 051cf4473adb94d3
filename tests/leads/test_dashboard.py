"""The home's "Leads today" tile and its 14-day chart count the same leads on the same day."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from leads.dashboard import leads_panel
from leads.models import Lead
from tests.conftest import make_staff


def tile(panel, label):
    return next(k.value for k in panel.kpis if k.label == label)


def chart(panel, chart_id):
    found = next(c for c in panel.charts if c.id == chart_id)
    return found.labels, found.datasets[0]["data"]


def test_leads_today_tile_is_the_charts_last_bar_for_each_scope(floor):
    dubai = [floor.capture(country="AE", phone=f"+97150123450{i}") for i in range(3)]
    others = [floor.capture(country="GB", phone=f"+4479111234{i:02d}") for i in range(4)]
    assert all(lead.desk_id == floor.dubai.pk for lead in dubai)
    assert not any(lead.desk_id == floor.dubai.pk for lead in others)
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    # The day's edges: one lead a second before midnight (yesterday), one exactly at midnight.
    Lead.objects.filter(pk=dubai[0].pk).update(created_at=midnight - timedelta(seconds=1))
    Lead.objects.filter(pk=others[0].pk).update(created_at=midnight)
    # A Dubai lead from three days ago.
    Lead.objects.filter(pk=dubai[1].pk).update(created_at=midnight - timedelta(days=3))

    manager = leads_panel(floor.manager)
    labels, bars = chart(manager, "leads-per-day")
    assert len(bars) == 14 and labels[-1] == timezone.localdate().isoformat()[5:]
    assert tile(manager, "Leads today") == bars[-1] == 1  # the desk's, today
    assert bars[-2] == 1 and bars[-4] == 1 and sum(bars) == 3
    _labels, statuses = chart(manager, "leads-by-status")
    assert sum(statuses) == 3  # the desk's leads, like the tile

    everyone = leads_panel(make_staff("ops_admin", email="ops@test.example"))
    _labels, bars = chart(everyone, "leads-per-day")
    assert tile(everyone, "Leads today") == bars[-1] == 5
    assert sum(chart(everyone, "leads-by-status")[1]) == 7


def test_an_agents_tile_counts_their_own_leads_today(floor):
    lead = floor.capture(country="AE", phone="+971501234599")
    agent = lead.assigned_to
    assert agent is not None
    assert tile(leads_panel(agent), "Leads today") == 1
    assert agent.staff_profile.desk_id == floor.dubai.pk
    assert tile(leads_panel(floor.global_en), "Leads today") == 0
