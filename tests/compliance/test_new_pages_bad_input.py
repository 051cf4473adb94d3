"""This round's new back-office pages answer bad input with a message, never a 500 or a
partial write: the regions page, the staff leverage and category page, the dossiers page."""

import pytest

from brokerage.models import AuditEvent, Region
from tests.clients.factories import make_account
from tests.conftest import login, make_client_user, make_staff, shipped_defaults

pytestmark = pytest.mark.django_db

GARBAGE = ["", "x" * 5000, "-1", "0", "abc", "9" * 40, "\x00", "<script>", "1.5"]


def test_the_regions_page_refuses_garbage(client):
    login(client, make_staff("ib_manager"))
    before = (Region.objects.count(), AuditEvent.objects.count())
    for value in GARBAGE:
        for data in (
            {"code": value, "name": value, "countries": [value]},
            {"code": "OK1", "name": "Fine", "countries": [value, "DE"]},
        ):
            response = client.post("/backoffice/regions/", data)
            assert response.status_code in (200, 400), (data, response.status_code)
    assert (Region.objects.count(), AuditEvent.objects.count()) == before
    assert client.get("/backoffice/regions/999999/").status_code == 404


def test_the_leverage_and_category_page_refuses_garbage(client):
    shipped_defaults()
    trader = make_client_user("gb@test.example").client
    trader.country = "GB"
    trader.save()
    account = make_account(trader, leverage=30)
    login(client, make_staff("compliance_officer"))
    url = f"/backoffice/clients/{trader.pk}/leverage/"
    before = AuditEvent.objects.count()
    for value in GARBAGE:
        for data in (
            {"account": value, "leverage": "30", "reason": "x"},
            {"account": account.pk, "leverage": value, "reason": "x"},
            {"account": account.pk, "leverage": "500", "reason": value},
            {"category": value, "evidence": value, "reason": value},
            {"category": "professional", "trades_met": "on", "evidence": "", "reason": "r"},
        ):
            response = client.post(url, data)
            assert response.status_code in (200, 302, 400, 403, 404), (data, response.status_code)
    account.refresh_from_db()
    trader.refresh_from_db()
    assert account.leverage == 30 and trader.category == "retail"
    assert AuditEvent.objects.count() == before
    assert client.get("/backoffice/clients/999999/leverage/").status_code == 404
