import pytest

from brokerage.errors import InvalidInput
from ib.models import Partner
from ib.services import partner_create
from tests.conftest import make_client_user, make_partner_user, make_staff
from tests.ib.conftest import signup_confirmed

pytestmark = pytest.mark.django_db


def test_partner_home_shows_the_referral_link(as_role):
    page = as_role("partner").get("/partners/")
    assert page.status_code == 200
    assert page.context["referral_url"].endswith("/r/IBTEST01")


def test_network_lists_only_the_partners_own_sub_ibs(client, django_assert_max_num_queries):
    from tests.conftest import login

    master = make_partner_user()
    stranger = make_partner_user("other@test.example", "OTHER001")
    for i in range(12):
        sub = make_partner_user(f"sub{i}@test.example", f"SUB{i:05d}")
        Partner.objects.filter(pk=sub.partner.pk).update(parent=master.partner)
    make_partner_user("theirs@test.example", "THEIRS01").partner.__class__.objects.filter(
        user__email="theirs@test.example"
    ).update(parent=stranger.partner)
    login(client, master)
    with django_assert_max_num_queries(10):
        page = client.get("/partners/network/")
    codes = {node["partner"].referral_code for node in page.context["nodes"]}
    assert len(codes) == 13 and "THEIRS01" not in codes  # the partner and its 12 sub-IBs


def test_only_plain_users_become_partners_with_a_free_code():
    make_partner_user()
    newcomer = __import__("brokerage.models", fromlist=["User"]).User.objects.create_user(
        email="new@test.example", password="x-long-password"
    )
    with pytest.raises(InvalidInput) as taken:
        partner_create(actor="test", user=newcomer, referral_code="IBTEST01")
    assert taken.value.fields == {"referral_code": ["Already in use."]}
    other = make_client_user("c@test.example")
    with pytest.raises(InvalidInput):
        partner_create(actor="test", user=other, referral_code="NEWCODE1")  # a client
    staff = make_staff("ib_manager", totp=False)
    with pytest.raises(InvalidInput):
        partner_create(actor="test", user=staff)


def signup(client, email):
    signup_confirmed(client, email, first_name="Rita")


def test_referral_link_attributes_the_client_who_signs_up(client):
    from ib.models import Referral

    partner = make_partner_user().partner
    response = client.get("/r/ibtest01")
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/"
    assert response.cookies["bo_ref"]["httponly"]
    signup(client, "rita@example.com")
    referral = Referral.objects.get()
    assert referral.partner == partner and referral.client.user.email == "rita@example.com"
    from brokerage.models import AuditEvent

    assert AuditEvent.objects.filter(action="referral.attributed").count() == 1


def test_unknown_forged_or_suspended_codes_attribute_nothing(client):
    from ib.models import Referral

    partner = make_partner_user().partner
    client.get("/r/NOSUCHCODE")
    signup(client, "a@example.com")
    client.cookies["bo_ref"] = "IBTEST01"  # unsigned: forged
    signup(client, "b@example.com")
    Partner.objects.filter(pk=partner.pk).update(status=Partner.Status.SUSPENDED)
    client.get("/r/IBTEST01")
    signup(client, "c@example.com")
    assert not Referral.objects.exists()


def test_partner_home_counts_referred_clients(client):
    from tests.conftest import login

    user = make_partner_user()
    client.get("/r/IBTEST01")
    signup(client, "d@example.com")
    client.logout()
    login(client, user)
    assert client.get("/partners/").context["referred_count"] == 1


def test_partner_pages_read_as_many_queries_with_30_sub_ibs_and_clients_as_with_3(client):
    from ib.models import Referral
    from tests.clients.factories import make_account, make_deal
    from tests.conftest import page_queries

    master = make_partner_user()

    def add(start, n):
        for i in range(start, start + n):
            sub = make_partner_user(f"sub{i}@test.example", f"SUB{i:05d}")
            Partner.objects.filter(pk=sub.partner.pk).update(parent=master.partner)
            trader = make_client_user(f"referred{i}@test.example").client
            Referral.objects.create(partner=master.partner, client=trader, code="IBTEST01")
            make_deal(make_account(trader), profit="5.00")

    partner_pages = ["/partners/", "/partners/network/", "/partners/clients/"]
    add(0, 3)
    manager = make_staff("ib_manager")
    few = {
        **page_queries(client, master, partner_pages),
        **page_queries(client, manager, ["/backoffice/ib/"]),
    }
    add(3, 27)
    assert {
        **page_queries(client, master, partner_pages),
        **page_queries(client, manager, ["/backoffice/ib/"]),
    } == few
