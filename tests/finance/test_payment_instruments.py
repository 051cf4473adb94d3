"""PSP notices read as each PSP documents them, through /api/v1/webhooks/<psp>/.

Who paid (the payment instrument) is stored on the deposit in one shape and deduplicated per
client; Skrill credits the payment's amount and currency and keeps what reached the merchant
wallet; a Stripe signature from a sender whose clock runs ahead is accepted as Stripe's own
library accepts it; CoinPayments' withdrawal IPN is read by its documented fields.
"""

import time
from decimal import Decimal

import pytest

from clients.models import Client
from finance.models import Deposit, PaymentInstrument, Refund, Withdrawal
from finance.selectors import linked_clients, payment_instrument_list
from sandbox import psp as sandbox
from tests.conftest import login, make_staff, wait_for
from tests.finance.conftest import fresh, verified_client
from tests.finance.test_webhooks import balance, open_deposit, post

D = Decimal
pytestmark = pytest.mark.django_db


def stripe_charge(
    deposit, *, fingerprint="fpA1", last4="4242", brand="visa", iin=None, holder="Tia Trader"
):
    card = {"brand": brand, "last4": last4, "fingerprint": fingerprint, "country": "GB"}
    if iin:
        card["iin"] = iin
    return sandbox.stripe_event(
        "charge.succeeded",
        {
            "id": "ch_" + deposit.reference,
            "object": "charge",
            "amount": int(deposit.amount * 100),
            "amount_captured": int(deposit.amount * 100),
            "currency": deposit.currency.lower(),
            "payment_intent": deposit.provider_reference,
            "metadata": {"reference": deposit.reference},
            "billing_details": {"name": holder, "email": None},
            "payment_method_details": {"type": "card", "card": card},
            "status": "succeeded",
        },
    )


def pending_deposit(owner, method, reference, amount, provider_reference) -> Deposit:
    """A deposit already at the PSP (pending), known by `provider_reference`."""
    deposit = Deposit.objects.create(
        reference=reference,
        client=owner,
        method=method,
        psp=method.psp,
        amount=D(amount),
        currency=method.currency,
        provider_reference=provider_reference,
    )
    Deposit.objects.filter(pk=deposit.pk).update(status="pending")
    return fresh(deposit)


def deliver(client, psp, payload, **kw):
    response = post(client, psp, *sandbox.signed_webhook(psp, payload, **kw))
    assert response.status_code == 200, response.content
    return response


def test_a_stripe_charge_credits_once_and_names_the_card(client, methods):
    deposit = open_deposit(methods, "stripe")
    deliver(client, "stripe", stripe_charge(deposit, iin="424242"))
    got = fresh(deposit)
    assert got.status == "completed" and balance(deposit) == D("100.00")
    card = got.instrument
    assert (card.kind, card.label, card.bin, card.last4) == (
        "card",
        "Visa •••• 4242",
        "424242",
        "4242",
    )
    assert (card.key, card.holder_name, card.provider) == ("fp:fpA1", "Tia Trader", "stripe")
    # the payment intent's own event afterwards: already credited, nothing changes
    intent = {
        "id": deposit.provider_reference,
        "object": "payment_intent",
        "amount": 10000,
        "amount_received": 10000,
        "currency": "usd",
        "metadata": {"reference": deposit.reference},
        "latest_charge": "ch_" + deposit.reference,
        "status": "succeeded",
    }
    deliver(client, "stripe", sandbox.stripe_event("payment_intent.succeeded", intent))
    assert balance(deposit) == D("100.00") and fresh(deposit).instrument_id == card.pk


def test_the_card_is_recorded_when_the_charge_comes_after_the_credit(client, methods):
    deposit = open_deposit(methods, "stripe")
    intent = {
        "id": deposit.provider_reference,
        "object": "payment_intent",
        "amount": 10000,
        "amount_received": 10000,
        "currency": "usd",
        "metadata": {"reference": deposit.reference},
        "status": "succeeded",
    }
    deliver(client, "stripe", sandbox.stripe_event("payment_intent.succeeded", intent))
    assert fresh(deposit).status == "completed" and fresh(deposit).instrument is None
    deliver(client, "stripe", stripe_charge(deposit))
    assert fresh(deposit).instrument.label == "Visa •••• 4242"
    assert balance(deposit) == D("100.00")


def test_one_instrument_per_client_and_key_and_linked_accounts(client, methods):
    first = open_deposit(methods, "stripe")
    deliver(client, "stripe", stripe_charge(first))
    # the same card again for the same client: the same instrument, seen later
    second = pending_deposit(first.client, methods["stripe"], "D-SECOND", "50.00", "pi_T2")
    deliver(client, "stripe", stripe_charge(second))
    assert fresh(second).instrument_id == fresh(first).instrument_id
    assert PaymentInstrument.objects.count() == 1
    instrument = PaymentInstrument.objects.get()
    assert instrument.last_seen_at >= instrument.first_seen_at

    # another client pays with the same card (same fingerprint): linked accounts
    other = verified_client("someone.else@test.example")
    third = pending_deposit(other, methods["stripe"], "D-THIRD", "20.00", "pi_T3")
    deliver(client, "stripe", stripe_charge(third))
    assert PaymentInstrument.objects.count() == 2  # one per client
    (mine,) = payment_instrument_list(first.client)
    assert [c.pk for c in mine.shared_with] == [other.pk]
    officer = make_staff("finance_officer")
    linked = linked_clients(user=officer, client=other)
    assert [(e["client"].pk, e["instruments"]) for e in linked] == [
        (first.client_id, ["Visa •••• 4242"])
    ]


def test_deposit_page_and_client_360_show_the_instrument_and_who_shares_it(client, methods):
    deposit = open_deposit(methods, "stripe")
    deliver(client, "stripe", stripe_charge(deposit))
    other = verified_client("twin@test.example")
    twin = pending_deposit(other, methods["stripe"], "D-TWIN", "20.00", "pi_TW")
    deliver(client, "stripe", stripe_charge(twin))
    officer = make_staff("finance_officer")
    login(client, officer)
    page = client.get(f"/backoffice/finance/deposits/{deposit.pk}/").content.decode()
    assert "Visa •••• 4242" in page and "data-linked" in page
    assert f"/backoffice/clients/{other.pk}/" in page.split("data-linked")[1].split("</dd>")[0]
    c360 = client.get(f"/backoffice/clients/{deposit.client_id}/").content.decode()
    assert 'data-instrument="Visa •••• 4242"' in c360 and "shared with other clients" in c360


def test_a_card_in_another_name_is_flagged_as_possible_third_party_funding(client, methods):
    own = open_deposit(methods, "stripe")
    name = own.client.user.get_full_name()
    assert name
    deliver(client, "stripe", stripe_charge(own, holder=name.upper()))
    other = pending_deposit(own.client, methods["stripe"], "D-3RD", "30.00", "pi_3RD")
    deliver(client, "stripe", stripe_charge(other, fingerprint="fpB2", holder="Someone Else"))
    login(client, make_staff("finance_officer"))
    own_page = client.get(f"/backoffice/finance/deposits/{own.pk}/").content.decode()
    other_page = client.get(f"/backoffice/finance/deposits/{other.pk}/").content.decode()
    assert "data-third-party" not in own_page and "data-third-party" in other_page


def test_skrill_credits_the_payment_and_keeps_the_merchant_wallets_figure(client, methods):
    deposit = open_deposit(methods, "skrill")  # 100.00 in the method's currency
    fields = {
        "transaction_id": deposit.reference,
        "mb_transaction_id": "400000991",
        "amount": "100.00",
        "currency": deposit.currency,
        # the merchant wallet is in another currency: Skrill converts
        "mb_amount": "92.59" if deposit.currency != "EUR" else "85.04",
        "mb_currency": "EUR" if deposit.currency != "EUR" else "GBP",
        "pay_from_email": "Payer.Wallet@Example.com",
    }
    deliver(client, "skrill", sandbox.skrill_status(**fields, status=2))
    got = fresh(deposit)
    assert got.status == "completed" and balance(deposit) == D("100.00")
    assert (got.wallet_amount, got.wallet_currency) == (
        D(fields["mb_amount"]),
        fields["mb_currency"],
    )
    assert (got.instrument.kind, got.instrument.email) == ("wallet", "payer.wallet@example.com")


def test_stripe_accepts_a_signature_from_a_clock_running_ahead(client, methods):
    deposit = open_deposit(methods, "stripe")
    ahead = int(time.time()) + 3600  # stripe-python: the tolerance guards the past only
    deliver(client, "stripe", stripe_charge(deposit), timestamp=ahead)
    assert fresh(deposit).status == "completed"
    old = int(time.time()) - 301
    headers, body = sandbox.signed_webhook("stripe", stripe_charge(deposit), timestamp=old)
    assert post(client, "stripe", headers, body).json()["error"] == "stale_timestamp"


def _withdrawal_ipn(provider_reference, status=2):
    fields = {
        "ipn_type": "withdrawal",
        "id": provider_reference,
        "status": status,
        "status_text": "Complete" if status == 2 else "Failed",
        "address": "bc1qexampleaddress0000000000000000000000",
        "currency": "BTC",
        "amount": "0.00150000",
        "amounti": "150000",
    }
    if status == 2:
        fields["txn_id"] = "ab" * 32
    return sandbox.coinpayments_ipn(fields)


@pytest.mark.django_db(transaction=True)
def test_coinpayments_withdrawal_ipn_is_read_by_its_documented_fields(
    live_server, psp_sandbox, methods
):
    """The IPN names the withdrawal's id only (no note, no fiat figure): the payout with that
    id is paid, a refund sent as a withdrawal is finished, an unknown id is refused."""
    from django.test import Client as HttpClient

    from finance.services import withdrawal_payout, withdrawal_request
    from tests.finance.test_reliability import sandbox_deposit

    bob = verified_client("bob@test.example")
    sandbox_deposit(live_server, psp_sandbox, bob, methods["coinpayments"], "200.00")
    w = withdrawal_request(
        client=bob, amount="90.00", currency="USD", psp="coinpayments", actor="t"
    )
    withdrawal_payout(withdrawal_id=w.pk)
    assert wait_for(lambda: fresh(w).status == "paid", timeout=20), fresh(w)
    paid = fresh(w)
    assert paid.provider_reference.startswith("CW")
    http = HttpClient()
    response = post(
        http, "coinpayments", *sandbox.signed_webhook("coinpayments", _withdrawal_ipn("CWNOSUCH"))
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_transaction"
    assert Withdrawal.objects.filter(status="paid").count() == 1 and not Refund.objects.exists()
    assert Client.objects.filter(pk=bob.pk).exists()


def test_who_shares_an_instrument_is_named_only_to_those_who_may_see_them(client, methods):
    from brokerage.models import Desk
    from clients.models import Client

    deposit = open_deposit(methods, "stripe")
    deliver(client, "stripe", stripe_charge(deposit))
    other = verified_client("twin@test.example")
    twin = pending_deposit(other, methods["stripe"], "D-TWIN", "20.00", "pi_TW")
    deliver(client, "stripe", stripe_charge(twin))
    desk = Desk.objects.create(name="London")
    Client.objects.filter(pk=deposit.client_id).update(desk=desk)
    login(client, make_staff("sales_agent", desk=desk))
    c360 = client.get(f"/backoffice/clients/{deposit.client_id}/").content.decode()
    assert "a client outside your desk" in c360
    assert f"/backoffice/clients/{other.pk}/" not in c360 and "twin@test.example" not in c360
