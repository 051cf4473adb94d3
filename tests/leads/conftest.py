import uuid

import pytest

from brokerage.models import Desk
from demo.leads import install_demo_rules
from leads.models import Channel
from leads.services import lead_capture, lead_route
from leads.validation import clean_lead_input
from tests.conftest import make_staff


class Floor:
    """The demo's sales floor: three desks, their agents, a senior AM, the demo rules."""

    def __init__(self):
        self.dubai = Desk.objects.create(name="Dubai", languages=["ar", "en"])
        self.london = Desk.objects.create(name="London", languages=["en"])
        self.global_ = Desk.objects.create(name="Global", languages=["en", "es"])
        self.manager = make_staff("desk_manager", desk=self.dubai)
        self.dubai.manager = self.manager
        self.dubai.save()
        self.dubai_ar = make_staff(
            "sales_agent", email="dubai.ar@test.example", desk=self.dubai, languages=["ar", "en"]
        )
        self.dubai_en = make_staff(
            "sales_agent", email="dubai.en@test.example", desk=self.dubai, languages=["en"]
        )
        self.global_en = make_staff(
            "sales_agent", email="global.en@test.example", desk=self.global_, languages=["en"]
        )
        self.global_es = make_staff(
            "sales_agent", email="global.es@test.example", desk=self.global_, languages=["es", "en"]
        )
        self.senior = make_staff(
            "senior_account_manager",
            email="senior@test.example",
            desk=self.london,
            languages=["en"],
        )
        install_demo_rules()

    def capture(self, route=True, **raw):
        # A fresh address each time (an object's id can be reused once it is freed, which
        # would make a later capture a touch on an earlier lead).
        raw.setdefault("email", f"lead{uuid.uuid4().hex[:12]}@example.com")
        lead, _created = lead_capture(
            data=clean_lead_input(raw), channel=Channel.API, actor="test", route=False
        )
        if route:
            lead = lead_route(lead_id=lead.pk)
        return lead


@pytest.fixture
def floor(db):
    return Floor()
