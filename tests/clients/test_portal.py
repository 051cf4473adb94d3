import pytest

from clients.services import client_register
from tests.conftest import make_client_user, make_staff

pytestmark = pytest.mark.django_db


def test_portal_shows_the_clients_own_record(as_role):
    client = as_role("client")
    page = client.get("/portal/")
    assert page.status_code == 200
    assert page.context["client"].user.email == "trader@test.example"
    assert b"trader@test.example" in page.content


def test_portal_profile_links_security_settings(as_role):
    page = as_role("client").get("/portal/profile/")
    assert page.status_code == 200
    assert page.context["has_totp"] is False
    assert b"/accounts/2fa/totp/activate/" in page.content


def test_registering_twice_returns_the_same_client():
    user = make_client_user()
    assert client_register(user=user, actor="test") == user.client


def test_staff_cannot_become_clients():
    staff = make_staff("sales_agent", totp=False)
    with pytest.raises(ValueError):
        client_register(user=staff, actor="test")
