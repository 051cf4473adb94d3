"""The lead page speaks to staff in words: call outcomes, routing's distribution, rules and
integrations as actors, statuses, yes/no score conditions; never the codes stored."""

import re

import pytest

from leads.services import lead_call_log, lead_status_change
from tests.conftest import login

pytestmark = pytest.mark.django_db

CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def test_the_lead_page_shows_labels_not_codes(client, floor):
    lead = floor.capture(
        country="AE", language="ar", experience="some", phone="+971501234567", first_name="Zaid"
    )
    lead_call_log(lead=lead, actor=floor.dubai_ar, outcome="call_back", duration_seconds=180)
    lead_status_change(lead=lead, actor=floor.dubai_ar, to="contacted")
    login(client, floor.dubai_ar)
    page = client.get(f"/backoffice/leads/{lead.pk}/").content.decode()
    text = re.sub(r"<[^>]+>", " ", page.split('id="main"', 1)[-1] if 'id="main"' in page else page)
    text = re.sub(r"\s+", " ", text)
    assert "Asked to call back, 3 min" in text
    assert "Round-robin among" in text
    assert "Lead routing (automatic)" in text
    assert "New → Contacted" in text
    assert "United Arab Emirates" in text
    assert floor.dubai_ar.get_full_name() in text
    for raw in (
        "call_back",
        "round_robin",
        "rule:",
        "rule rule",
        ": True",
        "180 s",
        "new → contacted",
    ):
        assert raw not in text, raw
