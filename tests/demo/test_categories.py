"""The demo's categories: a professional client approved on the criteria, and a UK retail
client whose request waits in compliance's queue."""

import pytest

from clients.models import CategoryRequest
from demo.categories import OFFICER, PROFESSIONAL, UK_RETAIL, install_demo_categories
from tests.conftest import make_client_user, make_staff

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_professional_and_a_waiting_uk_retail_client():
    pro = make_client_user(PROFESSIONAL).client
    uk = make_client_user(UK_RETAIL).client
    pro.country, uk.country = "FR", "GB"
    pro.save()
    uk.save()
    make_staff("compliance_officer", email=OFFICER)
    install_demo_categories()
    install_demo_categories()  # seeding twice changes nothing
    pro.refresh_from_db()
    uk.refresh_from_db()
    assert (pro.category, uk.category) == ("professional", "retail")
    decided = CategoryRequest.objects.get(client=pro)
    assert decided.status == "approved" and decided.criteria_met == 3 and decided.evidence
    assert CategoryRequest.objects.get(client=uk).status == "pending"
