"""The PSP adapters against the PSP sandbox, which speaks each provider's protocol over HTTP.

Outbound: create_payment, refund, payout and lookup reach the sandbox through
settings.PSP_CONFIG. Inbound: the sandbox delivers signed webhooks to a small local receiver,
and the adapter must accept exactly what it received (raw body + headers), and refuse anything
forged, altered, stale or malformed (built with sandbox.psp.signed_webhook).
"""

import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from finance.psp import EventKind, PspError, WebhookRejected, adapter_for
from sandbox import psp as sandbox
from tests.psp_support import Receiver, control

D = Decimal
PSPS = ["stripe", "checkout", "skrill", "coinpayments"]
CURRENCY = {"stripe": "USD", "checkout": "USD", "skrill": "EUR", "coinpayments": "USD"}
CLIENT_EMAIL = "trader@example.com"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def psp_server():
    server = sandbox.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def base(psp_server):
    """The sandbox, emptied, with a fast retry policy for webhook deliveries."""
    control(psp_server, "POST", "/_sandbox/reset")
    control(psp_server, "POST", "/_sandbox/faults", {"delivery_backoff_seconds": 0.05})
    return psp_server


@pytest.fixture
def psp_settings(settings, base):
    config = sandbox.sandbox_config()
    settings.PSP_CONFIG = {psp: {"api_url": f"{base}/{psp}", **config[psp]} for psp in sandbox.PSPS}
    settings.PSP_TIMEOUT_SECONDS = 5
    return settings


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def now():
    return datetime.now(UTC)


def parse_all(adapter, deliveries):
    events = []
    for headers, body in deliveries:
        events.extend(adapter.parse_webhook(headers=headers, body=body, now=now()))
    return events


def open_payment(psp, receiver, *, reference="DEP-1", amount="100.00"):
    adapter = adapter_for(psp)
    session = adapter.create_payment(
        reference=reference,
        amount=D(amount),
        currency=CURRENCY[psp],
        customer_email=CLIENT_EMAIL,
        return_url="http://portal.example/deposits/done",
        cancel_url="http://portal.example/deposits/cancelled",
        notify_url=receiver.url,
    )
    return adapter, session


def paid_payment(psp, base, receiver, **kwargs):
    """A payment the client paid on the hosted page; returns (adapter, payment's reported id)."""
    adapter, session = open_payment(psp, receiver, **kwargs)
    status, paid = control(
        base, "POST", f"/_sandbox/{psp}/payments/{session.provider_reference}/pay?sync_delivery=1"
    )
    assert status == 200, paid
    receiver.received.clear()
    return adapter, paid["reported_reference"]


def activity(base, psp, kind=None):
    _, rows = control(base, "GET", f"/_sandbox/{psp}/activity")
    return [r for r in rows if kind is None or r["kind"] == kind]


# --- hosted payments ------------------------------------------------------------------------


@pytest.mark.parametrize("psp", PSPS)
def test_create_payment_returns_a_hosted_page_that_loads(psp, psp_settings, receiver):
    _, session = open_payment(psp, receiver, amount="123.45")
    with urllib.request.urlopen(session.redirect_url, timeout=5) as resp:
        assert resp.status == 200
        page = resp.read().decode()
    assert "123.45" in page and CURRENCY[psp] in page
    assert all(label in page for label in ("Pay", "Decline", "Let it expire"))


@pytest.mark.parametrize("psp", PSPS)
def test_paying_delivers_a_webhook_the_adapter_accepts(psp, psp_settings, base, receiver):
    adapter, session = open_payment(psp, receiver, reference="DEP-42", amount="250.00")
    status, paid = control(
        base, "POST", f"/_sandbox/{psp}/payments/{session.provider_reference}/pay?sync_delivery=1"
    )
    assert status == 200, paid
    events = parse_all(adapter, receiver.wait(2 if psp != "skrill" else 1))
    final = events[-1]
    assert final.kind == EventKind.PAYMENT_SUCCEEDED
    assert (final.amount, final.currency, final.reference) == (D("250.00"), CURRENCY[psp], "DEP-42")
    # the provider's id of the payment is the one its statements and activity carry
    assert final.provider_reference == activity(base, psp, "payment")[0]["provider_reference"]
    if psp != "skrill":  # Skrill names the payment by its mb_transaction_id once it is paid
        assert final.provider_reference == session.provider_reference
    # Checkout.com authorizes then captures; CoinPayments waits for funds then completes;
    # Stripe announces the payment intent, then its charge (which names the card)
    expected = {
        "checkout": [EventKind.PAYMENT_PENDING, EventKind.PAYMENT_SUCCEEDED],
        "coinpayments": [EventKind.PAYMENT_PENDING, EventKind.PAYMENT_SUCCEEDED],
        "stripe": [EventKind.PAYMENT_SUCCEEDED, EventKind.PAYMENT_SUCCEEDED],
    }.get(psp, [EventKind.PAYMENT_SUCCEEDED])
    assert [e.kind for e in events] == expected
    assert len({e.event_id for e in events}) == len(events)
    # Who paid, as each PSP documents it, in one shape.
    payer = final.instrument
    assert payer is not None, psp
    if psp in ("stripe", "checkout"):
        assert (payer.kind, payer.label, payer.last4) == ("card", "Visa •••• 4242", "4242")
        assert payer.key.startswith("fp:") and payer.holder_name
        # Checkout.com's source names the BIN; Stripe's charge does not (no `iin` shared)
        assert payer.bin == ("424242" if psp == "checkout" else "")
    elif psp == "skrill":  # pay_from_email: the client's Skrill wallet
        assert (payer.kind, payer.email) == ("wallet", CLIENT_EMAIL.lower())
    else:  # the coin and the buyer; the IPN names no sending address
        assert (payer.kind, payer.email) == ("crypto", CLIENT_EMAIL.lower())
        assert payer.label.startswith("BTC ")


@pytest.mark.parametrize("psp", PSPS)
@pytest.mark.parametrize(
    "outcome, kind",
    [("decline", EventKind.PAYMENT_FAILED), ("expire", EventKind.PAYMENT_EXPIRED)],
)
def test_declined_and_expired_payments_are_reported(
    psp, outcome, kind, psp_settings, base, receiver
):
    adapter, session = open_payment(psp, receiver, reference="DEP-7", amount="10.00")
    control(
        base,
        "POST",
        f"/_sandbox/{psp}/payments/{session.provider_reference}/{outcome}?sync_delivery=1",
    )
    (event,) = parse_all(adapter, receiver.wait(1))
    if psp == "coinpayments":  # one status (-1) for cancelled and timed out
        kind = EventKind.PAYMENT_EXPIRED
    assert event.kind == kind
    assert (event.amount, event.currency, event.reference) == (D("10.00"), CURRENCY[psp], "DEP-7")
    assert activity(base, psp) == []


# --- refunds and payouts --------------------------------------------------------------------

REFUND_STATUS = {"stripe": "succeeded", "checkout": "pending", "skrill": "succeeded"}
REFUND_STATUS["coinpayments"] = "pending"


@pytest.mark.parametrize("psp", PSPS)
def test_refund_is_made_once_and_confirmed_by_webhook(psp, psp_settings, base, receiver):
    adapter, payment_ref = paid_payment(psp, base, receiver)
    currency = CURRENCY[psp]
    first = adapter.refund(
        reference="REF-1", payment_reference=payment_ref, amount=D("30.00"), currency=currency
    )
    assert first.status == REFUND_STATUS[psp] and first.provider_reference
    again = adapter.refund(
        reference="REF-1", payment_reference=payment_ref, amount=D("30.00"), currency=currency
    )
    assert again.provider_reference == first.provider_reference
    refunds = activity(base, psp, "refund")
    assert [(r["provider_reference"], r["amount"]) for r in refunds] == [
        (first.provider_reference, "-30.00")
    ]
    (event,) = parse_all(adapter, receiver.wait(1))
    if psp == "coinpayments":  # a withdrawal IPN: its documented fields name only its id
        assert (event.kind, event.provider_reference) == ("payout_paid", first.provider_reference)
        assert (event.reference, event.amount) == ("", None)
        return
    assert event.kind == EventKind.REFUND_SUCCEEDED
    assert (event.reference, event.provider_reference) == ("REF-1", first.provider_reference)
    assert (event.amount, event.currency) == (D("30.00"), currency)


@pytest.mark.parametrize("psp", ["stripe", "checkout", "skrill", "coinpayments"])
def test_refund_over_the_unrefunded_amount_is_refused(psp, psp_settings, base, receiver):
    adapter, payment_ref = paid_payment(psp, base, receiver)
    currency = CURRENCY[psp]
    ok = adapter.refund(
        reference="REF-A", payment_reference=payment_ref, amount=D("60.00"), currency=currency
    )
    assert ok.status != "failed"
    refused = adapter.refund(
        reference="REF-B", payment_reference=payment_ref, amount=D("40.01"), currency=currency
    )
    assert refused.status == "failed" and refused.provider_reference == ""
    assert refused.detail
    assert len(activity(base, psp, "refund")) == 1


PAYOUT_STATUS = {"stripe": "succeeded", "checkout": "pending", "skrill": "succeeded"}
PAYOUT_STATUS["coinpayments"] = "pending"


@pytest.mark.parametrize("psp", PSPS)
def test_payout_is_paid_once_and_confirmed_by_webhook(psp, psp_settings, base, receiver):
    adapter, payment_ref = paid_payment(psp, base, receiver)
    currency = CURRENCY[psp]
    kwargs = {
        "reference": "WD-1",
        "amount": D("45.00"),
        "currency": currency,
        "payment_reference": payment_ref,
        "customer_email": CLIENT_EMAIL,
    }
    first = adapter.payout(**kwargs)
    assert first.status == PAYOUT_STATUS[psp] and first.provider_reference
    assert adapter.payout(**kwargs).provider_reference == first.provider_reference
    payouts = activity(base, psp, "payout")
    assert [(p["provider_reference"], p["reference"], p["amount"]) for p in payouts] == [
        (first.provider_reference, "WD-1", "-45.00")
    ]
    (event,) = parse_all(adapter, receiver.wait(1))
    assert event.kind == EventKind.PAYOUT_PAID
    if psp == "coinpayments":  # a withdrawal IPN names its id, its coin and address only
        assert (event.reference, event.provider_reference) == ("", first.provider_reference)
        assert event.amount is None and event.raw["currency"] == "BTC" and event.raw["address"]
        assert not {"note", "currency2", "amount2"} & set(event.raw)
        return
    assert (event.reference, event.provider_reference) == ("WD-1", first.provider_reference)
    assert (event.amount, event.currency) == (D("45.00"), currency)


@pytest.mark.parametrize("psp", PSPS)
def test_a_failing_payout_is_reported_failed(psp, psp_settings, base, receiver):
    adapter, payment_ref = paid_payment(psp, base, receiver)
    control(base, "POST", "/_sandbox/faults", {"fail_payouts": True})
    result = adapter.payout(
        reference="WD-9",
        amount=D("20.00"),
        currency=CURRENCY[psp],
        payment_reference=payment_ref,
        customer_email=CLIENT_EMAIL,
    )
    assert result.status == "pending"
    (event,) = parse_all(adapter, receiver.wait(1))
    assert event.kind == EventKind.PAYOUT_FAILED
    expected = "" if psp == "coinpayments" else "WD-9"  # CoinPayments: by its id only
    assert (event.reference, event.provider_reference) == (expected, result.provider_reference)
    assert activity(base, psp, "payout") == []
    assert adapter.lookup(reference="WD-9", payment_reference=payment_ref).status == "failed"


def test_stripe_payout_beyond_the_card_payment_fails(psp_settings, base, receiver):
    """A card is paid back by refunding it: never more than it paid."""
    adapter, payment_ref = paid_payment("stripe", base, receiver)
    result = adapter.payout(
        reference="WD-2",
        amount=D("100.01"),
        currency="USD",
        payment_reference=payment_ref,
        customer_email=CLIENT_EMAIL,
    )
    assert result.status == "failed" and "greater than unrefunded" in result.detail


# --- lookup after a lost answer -------------------------------------------------------------


@pytest.mark.parametrize("psp", PSPS)
@pytest.mark.parametrize("operation", ["refund", "payout"])
def test_lookup_finds_an_operation_whose_answer_was_lost(
    psp, operation, psp_settings, base, receiver
):
    adapter, payment_ref = paid_payment(psp, base, receiver)
    currency = CURRENCY[psp]
    control(base, "POST", "/_sandbox/faults", {"drop_after_request": True})
    with pytest.raises(PspError) as exc:
        if operation == "refund":
            adapter.refund(
                reference="OP-1", payment_reference=payment_ref, amount=D("5.00"), currency=currency
            )
        else:
            adapter.payout(
                reference="OP-1",
                amount=D("5.00"),
                currency=currency,
                payment_reference=payment_ref,
                customer_email=CLIENT_EMAIL,
            )
    assert exc.value.code == "psp_unreachable"
    control(base, "DELETE", "/_sandbox/faults")
    found = adapter.lookup(reference="OP-1", payment_reference=payment_ref)
    (booked,) = activity(base, psp, operation)
    assert found is not None and found.status in ("succeeded", "pending")
    assert found.provider_reference == booked["provider_reference"]
    assert adapter.lookup(reference="NEVER-SENT") is None


@pytest.mark.parametrize("psp", PSPS)
def test_a_wrong_api_key_is_a_configuration_error(psp, psp_settings, base, receiver):
    key = {"stripe": "secret_key", "checkout": "secret_key", "skrill": "api_password"}.get(
        psp, "private_key"
    )
    psp_settings.PSP_CONFIG = {
        **psp_settings.PSP_CONFIG,
        psp: {**psp_settings.PSP_CONFIG[psp], key: "wrong"},
    }
    with pytest.raises(PspError) as exc:
        adapter_for(psp).lookup(reference="ANY", payment_reference="pi_ANY")
    assert exc.value.code == "psp_auth_failed"


# --- webhook rejections, every scheme -------------------------------------------------------

SANDBOX = sandbox.sandbox_config()


def adapter_with_secrets(psp):
    return adapter_for(psp).__class__({"api_url": "http://unused.invalid", **SANDBOX[psp]})


def stripe_payload(amount=10000, currency="usd"):
    obj = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "metadata": {"reference": "DEP-1"},
        "status": "succeeded",
    }
    return sandbox.stripe_event("payment_intent.succeeded", obj)


def checkout_payload(amount=10000, currency="USD"):
    data = {"id": "pay_1", "action_id": "act_1", "reference": "DEP-1", "amount": amount}
    return sandbox.checkout_event("payment_captured", {**data, "currency": currency})


def skrill_payload(amount="100.00", currency="EUR"):
    return sandbox.skrill_status(
        transaction_id="DEP-1",
        mb_transaction_id="400000001",
        amount=amount,
        currency=currency,
        status=2,
    )


def coinpayments_payload(amount="100.00", currency="USD"):
    return sandbox.coinpayments_ipn(
        {
            "ipn_type": "api",
            "status": 100,
            "txn_id": "CP1",
            "currency1": currency,
            "amount1": amount,
            "currency2": "BTC",
            "amount2": "0.0016",
            "invoice": "DEP-1",
        }
    )


PAYLOADS = {
    "stripe": stripe_payload,
    "checkout": checkout_payload,
    "skrill": skrill_payload,
    "coinpayments": coinpayments_payload,
}
SIGNATURE_HEADER = {"stripe": "Stripe-Signature", "checkout": "Cko-Signature"}
SIGNATURE_HEADER["coinpayments"] = "HMAC"


def rejected(psp, headers, body, when=None):
    with pytest.raises(WebhookRejected) as exc:
        adapter_with_secrets(psp).parse_webhook(headers=headers, body=body, now=when or now())
    return exc.value.code


@pytest.mark.parametrize("psp", PSPS)
def test_a_correctly_signed_webhook_is_accepted(psp):
    headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp]())
    (event,) = adapter_with_secrets(psp).parse_webhook(headers=headers, body=body, now=now())
    assert event.kind == EventKind.PAYMENT_SUCCEEDED
    assert event.amount == D("100.00") and event.reference == "DEP-1"


@pytest.mark.parametrize("psp", PSPS)
def test_a_webhook_signed_with_another_secret_is_rejected(psp):
    forged = dict.fromkeys(SANDBOX[psp], "not-the-secret")
    forged["merchant_id"] = SANDBOX[psp].get("merchant_id", "")
    if psp == "skrill":  # Skrill signs inside the form
        fields = sandbox.skrill_status(
            transaction_id="DEP-1",
            mb_transaction_id="1",
            amount="100.00",
            currency="EUR",
            status=2,
            config=forged,
        )
        headers, body = sandbox.signed_webhook(psp, fields)
    else:
        headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp](), config=forged)
    assert rejected(psp, headers, body) == "bad_signature"


@pytest.mark.parametrize("psp", PSPS)
def test_a_tampered_body_is_rejected(psp):
    headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp]())
    tampered = body.replace(b"100", b"900", 1)
    assert tampered != body
    assert rejected(psp, headers, tampered) == "bad_signature"


@pytest.mark.parametrize("psp", PSPS)
def test_a_missing_signature_is_rejected(psp):
    headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp]())
    if psp == "skrill":  # Skrill signs inside the form: drop the md5sig field
        fields = {k: v for k, v in PAYLOADS[psp]().items() if k != "md5sig"}
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    else:
        headers = {k: v for k, v in headers.items() if k != SIGNATURE_HEADER[psp]}
    assert rejected(psp, headers, body) == "bad_signature"


@pytest.mark.parametrize(
    "age, accepted",
    [(-86400, True), (-301, True), (-290, True), (290, True), (301, False), (86400, False)],
)
def test_stripe_timestamps_older_than_five_minutes_are_rejected(age, accepted):
    """As stripe-python's WebhookSignature.verify_header: the tolerance applies to the past
    only (a replay); a timestamp in the future (negative age) is accepted."""
    moment = int(time.time())
    headers, body = sandbox.signed_webhook("stripe", stripe_payload(), timestamp=moment - age)
    when = datetime.fromtimestamp(moment, UTC)
    if accepted:
        adapter_with_secrets("stripe").parse_webhook(headers=headers, body=body, now=when)
    else:
        assert rejected("stripe", headers, body, when) == "stale_timestamp"


MALFORMED = {
    "stripe": [b"not json", b"[1, 2]", b'{"id": "evt_1", "type": "payment_intent.succeeded"}'],
    "checkout": [b"{", b'"text"', b'{"id": "evt_1", "type": "payment_captured"}'],
    "skrill": None,
    "coinpayments": [b"a=1&a=2", b"ipn_mode=hmac&merchant=cp-sandbox-merchant&status=100"],
}


@pytest.mark.parametrize("psp", ["stripe", "checkout", "coinpayments"])
def test_a_signed_but_malformed_body_is_rejected(psp):
    for raw in MALFORMED[psp]:
        headers, body = sandbox.signed_webhook(psp, raw)
        assert rejected(psp, headers, body) == "malformed", raw


def test_a_skrill_post_missing_fields_is_rejected():
    fields = skrill_payload()
    del fields["mb_transaction_id"]
    headers, body = sandbox.signed_webhook("skrill", fields)
    assert rejected("skrill", headers, body) == "malformed"
    headers, body = sandbox.signed_webhook("skrill", b"md5sig=A&&=")
    assert rejected("skrill", headers, body) == "malformed"


BAD_AMOUNTS = {
    "stripe": [-100, "100", 10.5, float("nan"), None],
    "checkout": [-100, "abc", 99.9, float("nan"), None],
    "skrill": ["-100.00", "abc", "NaN", "1e3", "100.001"],
    "coinpayments": ["-100.00", "abc", "NaN", "Infinity", ""],
}


@pytest.mark.parametrize("psp", PSPS)
def test_negative_non_numeric_and_nan_amounts_are_rejected(psp):
    for amount in BAD_AMOUNTS[psp]:
        headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp](amount=amount))
        assert rejected(psp, headers, body) == "bad_amount", amount


UNKNOWN_CURRENCIES = {
    "stripe": ["zzz", "Usd", "xau", ""],
    "checkout": ["ZZZ", "usd", "XAU", "US"],
    "skrill": ["ZZZ", "eur", "XTS", ""],
    "coinpayments": ["ZZZ", "BTC", "usd", "XXX"],
}


@pytest.mark.parametrize("psp", PSPS)
def test_unknown_currencies_are_rejected(psp):
    for currency in UNKNOWN_CURRENCIES[psp]:
        headers, body = sandbox.signed_webhook(psp, PAYLOADS[psp](currency=currency))
        assert rejected(psp, headers, body) == "bad_currency", currency
