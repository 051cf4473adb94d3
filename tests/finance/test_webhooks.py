"""PSP webhooks through /api/v1/webhooks/<psp>/: signed over the raw body, applied once.

Payloads are built and signed the way each provider does it (sandbox.psp), then posted to our
endpoint like the provider would: repeated, reordered, forged, stale or wrong.
"""

import random
import time
from decimal import Decimal

import pytest

from finance.ledger import wallet_for
from finance.models import Deposit, LedgerTransaction, PspEvent, WebhookRejection
from finance.services import deposit_create
from sandbox import psp as sandbox
from tests.finance.conftest import fresh, verified_client

D = Decimal
PSPS = ["stripe", "checkout", "skrill", "coinpayments"]


def post(client, psp, headers, body):
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    content_type = headers.get("Content-Type") or headers.get("content-type") or "application/json"
    return client.post(
        f"/api/v1/webhooks/{psp}/", data=body, content_type=content_type, headers=extra
    )


def open_deposit(methods, psp, amount="100.00", email="trader@test.example"):
    client = verified_client(email)
    deposit = deposit_create(client=client, method=methods[psp], amount=amount, actor="test")
    ref = {"stripe": "pi_T1", "checkout": "pay_T1", "skrill": "SID1", "coinpayments": "CPT1"}[psp]
    Deposit.objects.filter(pk=deposit.pk).update(provider_reference=ref, status="pending")
    return fresh(deposit)


def payment_events(psp, deposit, *, amount=None, currency=None, outcome="paid"):
    """The provider's deliveries for one payment, in the order the provider sends them."""
    amount = deposit.amount if amount is None else amount
    currency = currency or deposit.currency
    minor = int(D(amount) * 100)
    if psp == "stripe":
        obj = {
            "id": deposit.provider_reference,
            "object": "payment_intent",
            "amount": minor,
            "amount_received": minor if outcome == "paid" else 0,
            "currency": currency.lower(),
            "metadata": {"reference": deposit.reference},
            "status": "succeeded" if outcome == "paid" else "requires_payment_method",
        }
        kind = "payment_intent.succeeded" if outcome == "paid" else "payment_intent.payment_failed"
        if outcome != "paid":
            obj["last_payment_error"] = {"message": "Your card was declined."}
        return [sandbox.stripe_event(kind, obj)]
    if psp == "checkout":
        data = {
            "id": deposit.provider_reference,
            "reference": deposit.reference,
            "amount": minor,
            "currency": currency,
        }
        final = "payment_captured" if outcome == "paid" else "payment_declined"
        return [
            sandbox.checkout_event("payment_approved", {**data, "action_id": "act_a"}),
            sandbox.checkout_event(final, {**data, "action_id": "act_c"}),
        ]
    if psp == "skrill":
        fields = {
            "transaction_id": deposit.reference,
            "mb_transaction_id": "400000777",
            "amount": str(amount),
            "currency": currency,
        }
        return [
            sandbox.skrill_status(**fields, status=0),
            sandbox.skrill_status(**fields, status=2 if outcome == "paid" else -2),
        ]
    base = {
        "ipn_type": "api",
        "txn_id": deposit.provider_reference,
        "currency1": currency,
        "amount1": str(amount),
        "currency2": "BTC",
        "amount2": "0.0016",
        "invoice": deposit.reference,
    }
    return [
        sandbox.coinpayments_ipn({**base, "status": 0, "status_text": "Waiting"}),
        sandbox.coinpayments_ipn(
            {**base, "status": 100 if outcome == "paid" else -2, "status_text": "Done"}
        ),
    ]


def balance(deposit):
    wallet = wallet_for(deposit.client, deposit.currency)
    wallet.refresh_from_db()
    return wallet.balance_amount


@pytest.mark.parametrize("psp", PSPS)
def test_each_psp_credits_the_wallet_once_over_five_shuffled_deliveries(client, methods, psp):
    deposit = open_deposit(methods, psp)
    deliveries = [sandbox.signed_webhook(psp, e) for e in payment_events(psp, deposit)] * 5
    random.Random(psp).shuffle(deliveries)
    for headers, body in deliveries:
        response = post(client, psp, headers, body)
        assert response.status_code == 200, response.content
    assert fresh(deposit).status == "completed" and fresh(deposit).is_ftd
    assert balance(deposit) == D("100.00")
    assert LedgerTransaction.objects.filter(kind="deposit").count() == 1
    assert PspEvent.objects.filter(psp=psp).count() == len(deliveries) // 5


@pytest.mark.parametrize("psp", PSPS)
def test_a_declined_payment_gets_its_status_and_no_credit(client, methods, psp):
    deposit = open_deposit(methods, psp)
    for event in payment_events(psp, deposit, outcome="declined"):
        assert post(client, psp, *sandbox.signed_webhook(psp, event)).status_code == 200
    assert fresh(deposit).status in ("failed", "expired")
    assert balance(deposit) == 0


def test_acks_are_what_each_provider_expects(client, methods):
    for psp, ack in [("skrill", b"OK"), ("coinpayments", b"IPN OK")]:
        deposit = open_deposit(methods, psp, email=f"{psp}@test.example")
        event = payment_events(psp, deposit)[-1]
        response = post(client, psp, *sandbox.signed_webhook(psp, event))
        assert response.status_code == 200 and response.content == ack


def tampered(psp, headers, body):
    if psp in ("stripe", "checkout"):
        return headers, body.replace(b"100", b"900", 1)
    return headers, body.replace(b"mb_amount=100.00", b"mb_amount=900.00", 1).replace(
        b"amount1=100.00", b"amount1=900.00", 1
    )


@pytest.mark.parametrize("psp", PSPS)
def test_forged_or_altered_webhooks_are_refused_logged_and_post_nothing(client, methods, psp):
    deposit = open_deposit(methods, psp)
    headers, body = sandbox.signed_webhook(psp, payment_events(psp, deposit)[-1])
    forged_headers, forged_body = tampered(psp, headers, body)
    response = post(client, psp, forged_headers, forged_body)
    assert response.status_code == 400 and response.json()["error"] == "bad_signature"
    unsigned = {k: v for k, v in headers.items() if k.lower() == "content-type"}
    if psp == "skrill":  # Skrill signs inside the form (md5sig)
        body = body.split(b"&md5sig=")[0]
    response = post(client, psp, unsigned, body)
    assert response.status_code == 400 and response.json()["error"] == "bad_signature"
    assert WebhookRejection.objects.filter(psp=psp, code="bad_signature").count() == 2
    assert not PspEvent.objects.exists() and balance(deposit) == 0


def test_a_stale_stripe_signature_is_refused(client, methods):
    deposit = open_deposit(methods, "stripe")
    event = payment_events("stripe", deposit)[0]
    headers, body = sandbox.signed_webhook("stripe", event, timestamp=int(time.time()) - 3600)
    response = post(client, "stripe", headers, body)
    assert response.status_code == 400 and response.json()["error"] == "stale_timestamp"
    assert balance(deposit) == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"reference": "DNOSUCH"}, 404, "unknown_transaction"),
        ({"currency": "USD"}, 400, "currency_mismatch"),
        ({"amount": "-100.00"}, 400, "bad_amount"),
        ({"amount": "abc"}, 400, "bad_amount"),
        ({"amount": "99.99"}, 400, "amount_mismatch"),
    ],
)
def test_bad_content_is_refused_with_a_clear_reason(client, methods, change, status, code):
    deposit = open_deposit(methods, "skrill")
    if "reference" in change:
        deposit.reference = change["reference"]
    fields = {
        "transaction_id": deposit.reference,
        "mb_transaction_id": "400000778",
        "amount": change.get("amount", "100.00"),
        "currency": change.get("currency", "EUR"),
    }
    response = post(
        client,
        "skrill",
        *sandbox.signed_webhook("skrill", sandbox.skrill_status(**fields, status=2)),
    )
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == code and body["detail"]
    assert WebhookRejection.objects.filter(code=code).exists()
    assert not LedgerTransaction.objects.exists()


def test_malformed_bodies_are_refused(client, methods):
    for psp, body in [("stripe", b"{not json"), ("checkout", b"[]"), ("skrill", b"\xff\xfe")]:
        headers, signed = sandbox.signed_webhook(psp, body)
        response = post(client, psp, headers, signed)
        assert response.status_code == 400, (psp, response.content)
        assert response.json()["error"] in ("malformed", "bad_signature")
    assert (
        client.post(
            "/api/v1/webhooks/nosuchpsp/", data=b"{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_a_dispute_before_its_payment_is_sent_back_then_applied(client, methods):
    deposit = open_deposit(methods, "stripe")
    dispute = sandbox.stripe_event(
        "charge.dispute.created",
        {
            "id": "dp_T1",
            "object": "dispute",
            "amount": 10000,
            "currency": "usd",
            "payment_intent": deposit.provider_reference,
            "reason": "fraudulent",
            "status": "needs_response",
        },
    )
    delivery = sandbox.signed_webhook("stripe", dispute)
    early = post(client, "stripe", *delivery)
    assert early.status_code == 409 and early.json()["error"] == "out_of_order"
    for event in payment_events("stripe", deposit):
        post(client, "stripe", *sandbox.signed_webhook("stripe", event))
    again = post(client, "stripe", *sandbox.signed_webhook("stripe", dispute))
    assert again.status_code == 200
    assert fresh(deposit).charged_back_amount == D("100.00") and balance(deposit) == 0


def test_a_signed_skrill_post_replayed_with_another_skrill_id_is_a_repeat(client, methods):
    deposit = open_deposit(methods, "skrill")
    fields = {
        "transaction_id": deposit.reference,
        "amount": "100.00",
        "currency": "EUR",
    }
    first = sandbox.skrill_status(**fields, mb_transaction_id="400000901", status=2)
    assert post(client, "skrill", *sandbox.signed_webhook("skrill", first)).status_code == 200
    dispute = sandbox.skrill_status(**fields, mb_transaction_id="400000901", status=-3)
    assert post(client, "skrill", *sandbox.signed_webhook("skrill", dispute)).status_code == 200
    # mb_transaction_id is outside md5sig: changing it must not make a second chargeback.
    replay = {**dispute, "mb_transaction_id": "400000999"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    from urllib.parse import urlencode

    assert post(client, "skrill", headers, urlencode(replay).encode()).status_code == 200
    assert fresh(deposit).charged_back_amount == D("100.00")
    assert PspEvent.objects.filter(psp="skrill").count() == 2
