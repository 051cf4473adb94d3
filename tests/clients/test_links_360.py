"""The client 360's "Linked clients": each linked client with the reasons as staff read them,
a link to their 360 only where the viewer may open it, and a fixed number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.models import AccessRecord
from tests.clients.test_client360 import agent_of, client_on, desks  # noqa: F401
from tests.clients.test_links import instrument
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db
PHONE = "+447911555000"


@pytest.fixture
def linked(desks):  # noqa: F811
    london, dubai = desks
    me = client_on(london, phone=PHONE)
    mate = client_on(london, phone=PHONE)
    far = client_on(dubai)
    instrument(me, "card", "fp:S", "Visa •••• 4242", last4="4242")
    instrument(far, "card", "fp:S", "Visa •••• 4242", last4="4242")
    return {"me": me, "mate": mate, "far": far, "agent": agent_of(london)}


def section(page):
    html = page.content.decode()
    start = html.index('data-section="links"')
    return html[start : html.index("</section>", start)]


def test_the_agent_sees_reasons_as_labels_and_only_their_desks_names(client, linked):
    login(client, linked["agent"])
    page = client.get(f"/backoffice/clients/{linked['me'].pk}/")
    assert page.status_code == 200
    part = section(page)
    mate, far = linked["mate"], linked["far"]
    assert f'href="/backoffice/clients/{mate.pk}/"' in part and "Tia Trader" in part
    assert "Same phone" in part and "Same card •••• 4242" in part
    assert "A client outside your desk" in part
    assert f"/backoffice/clients/{far.pk}/" not in part and far.user.email not in part
    codes = "phone|device|instrument|registration_ip|login_ip|name_dob|payer_name"
    assert not re.search(rf">\s*({codes})\s*<", part)  # labels, never the codes


def test_a_role_that_sees_every_client_sees_every_name(client, linked):
    login(client, make_staff("compliance_officer"))
    part = section(client.get(f"/backoffice/clients/{linked['me'].pk}/"))
    assert "A client outside your desk" not in part
    assert f'href="/backoffice/clients/{linked["far"].pk}/"' in part


def test_no_links_says_so(client, linked):
    login(client, linked["agent"])
    alone = client_on(linked["me"].desk)
    part = section(client.get(f"/backoffice/clients/{alone.pk}/"))
    assert "No other client shares" in part


def test_other_desks_cannot_open_the_360_to_see_its_links(client, linked, desks):  # noqa: F811
    login(client, agent_of(desks[1], email="dubai.agent@test.example"))
    assert client.get(f"/backoffice/clients/{linked['me'].pk}/").status_code == 403


def test_the_section_costs_the_same_queries_for_2_or_40_linked_clients(
    client,
    linked,
    desks,  # noqa: F811
    django_assert_max_num_queries,
):
    login(client, linked["agent"])
    url = f"/backoffice/clients/{linked['me'].pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    me = linked["me"]
    AccessRecord.objects.create(user=me.user, client=me, kind="login", at=me.created_at, ip="::1")
    for i in range(38):
        other = client_on(desks[i % 2], phone=PHONE)
        AccessRecord.objects.create(
            user=other.user, client=other, kind="login", at=me.created_at, ip="::1"
        )
    with django_assert_max_num_queries(len(few)):
        page = client.get(url)
    assert section(page).count("data-linked-client") == 40
