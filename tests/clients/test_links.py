"""Links between clients: each reason fires on shared evidence and a near miss does not; the
set-based questions cost a few queries whatever the number of clients."""

import itertools
from datetime import date, timedelta

import pytest
from django.utils import timezone

from brokerage.hooks import CLIENT_LINK_SOURCES, contributions
from brokerage.models import User
from clients.links import client_links, clients_related_to, links_among
from clients.models import AccessRecord, Client, SharedNetwork
from finance.models import PaymentInstrument
from kyc.models import KycSubmission
from tests.conftest import PASSWORD, make_client_user

pytestmark = pytest.mark.django_db
_n = itertools.count(1)
NOW = timezone.now()


def person(first="Tia", last="Trader", **fields) -> Client:
    user = make_client_user(f"person{next(_n)}@test.example")
    User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
    Client.objects.filter(pk=user.client.pk).update(**fields)
    return Client.objects.select_related("user").get(pk=user.client.pk)


def signed_in(client, *, ip=None, device="", kind="login", at=None):
    return AccessRecord.objects.create(
        user=client.user, client=client, kind=kind, at=at or NOW, ip=ip, device_id=device
    )


def instrument(client, kind, key, label, **fields):
    return PaymentInstrument.objects.create(
        client=client,
        kind=kind,
        key=key,
        label=label,
        provider="stripe",
        first_seen_at=NOW,
        last_seen_at=NOW,
        **fields,
    )


def reasons(a, b) -> list[tuple[str, str]]:
    found = clients_related_to([a.pk]).get(a.pk, {}).get(b.pk, [])
    return [(r.code, r.label) for r in found]


def test_the_sources_come_from_clients_kyc_and_finance():
    codes = [s.code for s in contributions(CLIENT_LINK_SOURCES)]
    assert codes == ["phone", "device", "instrument", "name_dob", "payer_name", "payer_name"]
    assert {s.__module__ for s in map(type, contributions(CLIENT_LINK_SOURCES))} == {
        "clients.links"
    }


def test_same_phone_links_and_another_phone_does_not():
    a, b = person(phone="+447911123456"), person(phone="+447911123456")
    c = person(phone="+447911123457")
    assert reasons(a, b) == [("phone", "Same phone")]
    assert reasons(b, a) == [("phone", "Same phone")]
    assert reasons(a, c) == [] and person(phone="").pk not in clients_related_to([a.pk])[a.pk]


def test_same_device_links_and_another_device_does_not():
    a, b, c = person(), person(), person()
    signed_in(a, device="a" * 32)
    signed_in(b, device="a" * 32, at=NOW - timedelta(days=400))  # a device has no window
    signed_in(c, device="c" * 32)
    assert reasons(a, b) == [("device", "Same device")] and reasons(a, c) == []


def test_two_browsers_of_one_device_link_two_clients_through_real_sign_ins(client):
    first = make_client_user("first@test.example")
    second = make_client_user("second@test.example")
    for user in (first, second):
        client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
        client.post("/accounts/logout/")
    found = clients_related_to([first.client.pk])[first.client.pk]
    assert [r.code for r in found[second.client.pk]] == ["device", "login_ip"]


def test_same_ip_within_the_window_links_outside_it_or_shared_does_not(settings):
    settings.CLIENT_LINKS_IP_WINDOW_DAYS = 30
    a, near, far, other = person(), person(), person(), person()
    signed_in(a, ip="203.0.113.7")
    signed_in(near, ip="203.0.113.7", at=NOW - timedelta(days=29))
    signed_in(far, ip="203.0.113.7", at=NOW - timedelta(days=31))
    signed_in(other, ip="203.0.113.8")
    assert reasons(a, near) == [("login_ip", "Same sign-in IP 203.0.113.7")]
    assert reasons(a, far) == [] and reasons(a, other) == []
    assert reasons(a, far) == []
    # the window is the caller's to choose
    wide = clients_related_to([a.pk], ip_window=timedelta(days=40))[a.pk]
    assert set(wide) == {near.pk, far.pk}
    # a carrier's NAT (any address of its network) links no one
    SharedNetwork.objects.create(network="203.0.113.0/24", note="Carrier NAT")
    assert clients_related_to([a.pk]) == {}


def test_same_registration_ip_is_its_own_reason():
    a, b = person(), person()
    signed_in(a, ip="2001:db8::1", kind="signup")
    signed_in(b, ip="2001:db8::1", kind="signup", at=NOW - timedelta(hours=2))
    signed_in(b, ip="2001:db8::1", kind="login")
    assert reasons(a, b) == [
        ("registration_ip", "Same sign-up IP 2001:db8::1"),
        ("login_ip", "Same sign-in IP 2001:db8::1"),
    ]
    evidence = clients_related_to([a.pk])[a.pk][b.pk][0].evidence
    assert evidence == {"ip": "2001:db8::1", "seconds_apart": 7200}


def test_same_payment_instrument_links_by_kind_with_a_label_staff_read():
    a, b, c = person(), person(), person()
    instrument(a, "card", "fp:X1", "Visa •••• 4242", last4="4242")
    instrument(b, "card", "fp:X1", "Visa •••• 4242", last4="4242")
    instrument(c, "card", "fp:X2", "Visa •••• 4242", last4="4242")  # same digits, other card
    instrument(a, "wallet", "pay@example.com", "Skrill pay@example.com")
    instrument(c, "wallet", "pay@example.com", "Skrill pay@example.com")
    instrument(b, "crypto", "BTC:bc1qxyz", "BTC bc1q…xyz")
    instrument(c, "crypto", "BTC:bc1qxyz", "BTC bc1q…xyz")
    assert reasons(a, b) == [("instrument", "Same card •••• 4242")]
    assert reasons(a, c) == [("instrument", "Same e-wallet Skrill pay@example.com")]
    assert reasons(b, c) == [("instrument", "Same crypto address BTC bc1q…xyz")]


def test_same_name_and_date_of_birth_links_and_another_birthday_does_not():
    a, b, c = person(), person(), person()
    born = date(1988, 3, 14)
    KycSubmission.objects.create(client=a, first_name="Ana", last_name="Silva", date_of_birth=born)
    KycSubmission.objects.create(
        client=b, first_name=" ana ", last_name="SILVA", date_of_birth=born
    )
    KycSubmission.objects.create(
        client=c, first_name="Ana", last_name="Silva", date_of_birth=date(1988, 3, 15)
    )
    assert reasons(a, b) == [("name_dob", "Same name and date of birth")]
    assert reasons(a, c) == []


def test_same_third_party_payer_links_but_the_clients_own_name_does_not():
    a, b = person("Tia", "Trader"), person("Bo", "Brown")
    c, d = person("Sam", "Lee"), person("Sam", "Lee")
    instrument(a, "card", "fp:A", "Visa •••• 1111", holder_name="Max  Payer")
    instrument(b, "card", "fp:B", "Visa •••• 2222", holder_name="MAX PAYER")
    instrument(c, "card", "fp:C", "Visa •••• 3333", holder_name="Sam Lee")
    instrument(d, "card", "fp:D", "Visa •••• 4444", holder_name="Sam Lee")
    assert reasons(a, b) == [("payer_name", "Same payer name Max  Payer")]
    assert reasons(c, d) == []  # two clients named Sam Lee paying with their own cards


def test_links_among_keeps_to_the_set_and_client_links_loads_the_clients():
    a, b, outside = (person(phone="+447911000001") for _ in range(3))
    among = links_among([a.pk, b.pk])
    assert set(among) == {a.pk, b.pk} and set(among[a.pk]) == {b.pk}
    assert set(clients_related_to([a.pk])[a.pk]) == {b.pk, outside.pk}
    signed_in(b, device="b" * 32)
    signed_in(a, device="b" * 32)
    linked = client_links(a)
    assert [link.client for link in linked] == [b, outside]  # the most reasons first
    assert [r.label for r in linked[0].reasons] == ["Same phone", "Same device"]
    assert links_among([]) == {} and clients_related_to([a.pk, a.pk]).keys() == {a.pk}


def test_links_among_many_clients_costs_a_few_queries(django_assert_max_num_queries):
    clients = [person(phone=f"+44791100{i // 2:04d}") for i in range(60)]
    for i, c in enumerate(clients):
        signed_in(c, ip=f"198.51.100.{i // 3}", device=f"{i // 4:032x}")
        instrument(c, "card", f"fp:{i // 5}", "Visa •••• 0000", last4="0000")
        KycSubmission.objects.create(
            client=c, first_name="Kim", last_name=f"N{i // 6}", date_of_birth=date(1990, 1, 1)
        )
    ids = [c.pk for c in clients]
    with django_assert_max_num_queries(len(contributions(CLIENT_LINK_SOURCES)) + 1):
        among = links_among(ids)
    assert len(among) == 60
    first, second = clients[0].pk, clients[1].pk
    assert {r.code for r in among[first][second]} == {
        "phone",
        "device",
        "login_ip",
        "instrument",
        "name_dob",
    }
