"""finance tells the links between clients (clients.links) who paid with one instrument, through
the `client.links` hook: two clients paying with one card through Stripe's real webhook are
linked by "Same card •••• 4242"; another card with the same last digits links no one."""

import pytest

from brokerage.hooks import CLIENT_LINK_SOURCES, contributions
from clients.links import client_links
from finance.links import INSTRUMENT
from tests.finance.conftest import verified_client
from tests.finance.test_payment_instruments import (
    deliver,
    open_deposit,
    pending_deposit,
    stripe_charge,
)

pytestmark = pytest.mark.django_db


def test_one_card_on_two_clients_links_them_through_finances_contribution(client, methods):
    assert INSTRUMENT in contributions(CLIENT_LINK_SOURCES)
    first = open_deposit(methods, "stripe")
    deliver(client, "stripe", stripe_charge(first, fingerprint="fpSHARED", holder=""))
    other = verified_client("other@test.example")
    second = pending_deposit(other, methods["stripe"], "D-OTHER", "20.00", "pi_T2")
    deliver(client, "stripe", stripe_charge(second, fingerprint="fpSHARED", holder=""))
    stranger = verified_client("stranger@test.example")
    third = pending_deposit(stranger, methods["stripe"], "D-THIRD", "20.00", "pi_T3")
    deliver(
        client, "stripe", stripe_charge(third, fingerprint="fpOTHER", holder="")
    )  # also •••• 4242

    (link,) = client_links(first.client)
    assert link.client == other
    assert [(r.code, r.label) for r in link.reasons] == [("instrument", "Same card •••• 4242")]
    assert link.reasons[0].evidence["detail"]["label"] == "Visa •••• 4242"
