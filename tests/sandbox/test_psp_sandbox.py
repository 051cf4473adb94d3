"""The PSP sandbox speaks each provider's protocol: auth, idempotency, refund limits, hosted
pages, webhook delivery with faults, disputes and statement files that reconcile."""

import hashlib
import hmac
import http.client
import io
import json
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from finance.psp import (
    CheckoutAdapter,
    CoinPaymentsAdapter,
    EventKind,
    SkrillAdapter,
    StripeAdapter,
)
from finance.reconciliation.generic_csv import ColumnMapping
from finance.reconciliation.readers import read_statement, read_statement_headers
from sandbox import psp as sandbox
from tests.psp_support import Receiver, control

D = Decimal
CONFIG = sandbox.sandbox_config()
ADAPTERS = {
    "stripe": StripeAdapter,
    "checkout": CheckoutAdapter,
    "skrill": SkrillAdapter,
    "coinpayments": CoinPaymentsAdapter,
}


# --- plumbing --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    srv = sandbox.serve("127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def base(server):
    request("POST", f"http://127.0.0.1:{server.server_address[1]}/_sandbox/reset")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    control(url, "POST", "/_sandbox/faults", {"delivery_backoff_seconds": 0.05})
    return url


def request(method, url, *, body=b"", headers=None):
    """(status, headers, body) of one request; redirects are not followed."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def form(fields):
    return urllib.parse.urlencode(fields).encode()


def stripe_headers(key=None, idempotency_key=None):
    headers = {
        "Authorization": f"Bearer {key or CONFIG['stripe']['secret_key']}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def checkout_headers(key=None, idempotency_key=None):
    headers = {
        "Authorization": key or CONFIG["checkout"]["secret_key"],
        "Content-Type": "application/json",
    }
    if idempotency_key:
        headers["Cko-Idempotency-Key"] = idempotency_key
    return headers


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def adapter(psp, base):
    return ADAPTERS[psp]({"api_url": f"{base}/{psp}", **CONFIG[psp]})


def events(psp, deliveries):
    parsed = []
    for headers, body in deliveries:
        parsed.extend(
            ADAPTERS[psp](CONFIG[psp]).parse_webhook(
                headers=headers, body=body, now=datetime.now(UTC)
            )
        )
    return parsed


def stripe_session(base, notify_url, *, minor=10000, currency="usd", reference="DEP-1"):
    status, _, body = request(
        "POST",
        f"{base}/stripe/v1/checkout/sessions",
        body=form(
            {
                "mode": "payment",
                "line_items[0][price_data][currency]": currency,
                "line_items[0][price_data][unit_amount]": minor,
                "line_items[0][price_data][product_data][name]": "Deposit",
                "line_items[0][quantity]": 1,
                "success_url": "http://portal.example/ok?session={CHECKOUT_SESSION_ID}",
                "cancel_url": "http://portal.example/cancelled",
                "metadata[notify_url]": notify_url,
                "payment_intent_data[metadata][reference]": reference,
            }
        ),
        headers=stripe_headers(idempotency_key=f"payment-{reference}"),
    )
    assert status == 200, body
    return json.loads(body)


def stripe_paid(base, notify_url="", **kwargs):
    session = stripe_session(base, notify_url, **kwargs)
    status, paid = control(
        base, "POST", f"/_sandbox/stripe/payments/{session['payment_intent']}/pay?sync_delivery=1"
    )
    assert status == 200, paid
    return session["payment_intent"]


def stripe_refund(base, pi, minor, key, **extra):
    fields = {"payment_intent": pi, "amount": minor, "metadata[reference]": key, **extra}
    return request(
        "POST",
        f"{base}/stripe/v1/refunds",
        body=form(fields),
        headers=stripe_headers(idempotency_key=f"refund-{key}"),
    )


def checkout_paid(base, notify_url="", *, minor=10000, reference="DEP-C"):
    status, _, body = request(
        "POST",
        f"{base}/checkout/hosted-payments",
        body=json.dumps(
            {
                "amount": minor,
                "currency": "USD",
                "reference": reference,
                "success_url": "http://portal.example/ok",
                "cancel_url": "http://portal.example/cancelled",
                "metadata": {"notify_url": notify_url},
            }
        ).encode(),
        headers=checkout_headers(idempotency_key=f"payment-{reference}"),
    )
    assert status == 201, body
    pay_id = json.loads(body)["payment_id"]
    assert control(base, "POST", f"/_sandbox/checkout/payments/{pay_id}/pay?sync_delivery=1")[0]
    return pay_id


def activity(base, psp, kind=None):
    _, rows = control(base, "GET", f"/_sandbox/{psp}/activity")
    return [r for r in rows if kind is None or r["kind"] == kind]


# --- credentials -------------------------------------------------------------------------------


def test_stripe_refuses_a_wrong_or_missing_key(base):
    pi = stripe_paid(base)
    for headers in (stripe_headers(key="sk_test_wrong"), {"Authorization": ""}):
        status, _, body = request(
            "POST", f"{base}/stripe/v1/refunds", body=form({"payment_intent": pi}), headers=headers
        )
        error = json.loads(body)["error"]
        assert status == 401 and error["type"] == "invalid_request_error"
        assert "API key" in error["message"] or "API Key" in error["message"]
    assert activity(base, "stripe", "refund") == []


def test_checkout_refuses_a_wrong_key_with_an_empty_401(base):
    pay_id = checkout_paid(base)
    status, _, body = request(
        "POST",
        f"{base}/checkout/payments/{pay_id}/refunds",
        body=b'{"amount": 100, "reference": "R"}',
        headers=checkout_headers(key="sk_sbox_wrong"),
    )
    assert (status, body) == (401, b"")
    assert activity(base, "checkout", "refund") == []


def test_skrill_refuses_a_wrong_api_password(base):
    wrong = hashlib.md5(b"wrong").hexdigest()
    login = {"email": CONFIG["skrill"]["pay_to_email"], "password": wrong}
    status, _, body = request(
        "POST",
        f"{base}/skrill/app/refund.pl",
        body=form({"action": "prepare", **login, "mb_transaction_id": "1", "amount": "1.00"}),
    )
    assert status == 200 and b"<error_msg>CANNOT_LOGIN</error_msg>" in body
    _, _, body = request(
        "POST",
        f"{base}/skrill/app/query.pl",
        body=form({"action": "status_trn", **login, "trn_id": "X"}),
    )
    assert body.startswith(b"401\tCannot login")


def test_coinpayments_refuses_a_wrong_key_or_hmac(base):
    conf = CONFIG["coinpayments"]
    fields = {"version": "1", "cmd": "get_tx_info", "format": "json", "txid": "CP1"}
    body = form({**fields, "key": "wrong"})
    signature = hmac.new(conf["private_key"].encode(), body, "sha512").hexdigest()
    _, _, answer = request(
        "POST", f"{base}/coinpayments/api.php", body=body, headers={"HMAC": signature}
    )
    assert "public key" in json.loads(answer)["error"]
    body = form({**fields, "key": conf["public_key"]})
    _, _, answer = request(
        "POST", f"{base}/coinpayments/api.php", body=body, headers={"HMAC": "0" * 128}
    )
    assert json.loads(answer)["error"] == "HMAC signature does not match"


# --- idempotency and limits --------------------------------------------------------------------


def test_the_same_idempotency_key_makes_one_refund(base):
    pi = stripe_paid(base)
    first = stripe_refund(base, pi, 1000, "R-1")
    second = stripe_refund(base, pi, 1000, "R-1")
    assert first[0] == second[0] == 200
    assert json.loads(first[2])["id"] == json.loads(second[2])["id"]
    assert second[1].get("Idempotent-Replayed") == "true"
    other = stripe_refund(base, pi, 1000, "R-2")
    refunds = activity(base, "stripe", "refund")
    assert [r["provider_reference"] for r in refunds] == [
        json.loads(first[2])["id"],
        json.loads(other[2])["id"],
    ]


def test_the_same_cko_idempotency_key_makes_one_refund(base):
    pay_id = checkout_paid(base)
    answers = [
        request(
            "POST",
            f"{base}/checkout/payments/{pay_id}/refunds",
            body=json.dumps({"amount": 2500, "reference": "R-C"}).encode(),
            headers=checkout_headers(idempotency_key="refund-R-C"),
        )
        for _ in range(2)
    ]
    assert [a[0] for a in answers] == [202, 202]
    assert len({json.loads(a[2])["action_id"] for a in answers}) == 1
    assert len(activity(base, "checkout", "refund")) == 1


def test_a_refund_over_the_unrefunded_amount_is_refused_as_each_provider_does(base):
    pi = stripe_paid(base)
    assert stripe_refund(base, pi, 6000, "A")[0] == 200
    status, _, body = stripe_refund(base, pi, 4001, "B")
    error = json.loads(body)["error"]
    assert status == 400 and error["code"] == "amount_too_large"
    assert "$40.00" in error["message"]

    pay_id = checkout_paid(base)
    status, _, body = request(
        "POST",
        f"{base}/checkout/payments/{pay_id}/refunds",
        body=b'{"amount": 10001, "reference": "C"}',
        headers=checkout_headers(idempotency_key="refund-C"),
    )
    assert status == 422 and json.loads(body)["error_codes"] == ["refund_amount_exceeds_balance"]
    assert len(activity(base, "stripe", "refund")) == 1
    assert activity(base, "checkout", "refund") == []


# --- hosted pages ------------------------------------------------------------------------------


def test_the_hosted_page_shows_the_payment_and_its_buttons_redirect(base, receiver):
    session = stripe_session(base, receiver.url, minor=4250, reference="DEP-9")
    status, headers, page = request("GET", session["url"])
    text = page.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert sandbox.MERCHANT_NAME in text and "42.50 USD" in text and "DEP-9" in text
    assert 'value="pay"' in text and 'value="decline"' in text and 'value="expire"' in text
    assert "<script" not in text and "http" not in text.split("<body>")[1].split("action=")[0]

    path = urllib.parse.urlsplit(session["url"]).path
    status, headers, _ = request(
        "POST",
        f"{base}{path}",
        body=form({"outcome": "pay", "card_number": "5555 5555 5555 4444"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 303
    assert headers["Location"] == f"http://portal.example/ok?session={session['id']}"
    # payment_intent.succeeded, then charge.succeeded naming the card the page was paid with
    intent, charge = events("stripe", receiver.wait(2))
    assert intent.kind == charge.kind == EventKind.PAYMENT_SUCCEEDED
    assert intent.amount == charge.amount == D("42.50") and intent.instrument is None
    assert charge.instrument.label == "Mastercard •••• 4444"
    assert charge.raw["data"]["object"]["payment_method_details"]["card"]["brand"] == "mastercard"

    # a second press changes nothing and sends nothing
    status, headers, _ = request("POST", f"{base}{path}", body=form({"outcome": "decline"}))
    assert status == 303 and headers["Location"].startswith("http://portal.example/ok")
    time.sleep(0.2)
    assert len(receiver.received) == 2
    assert "succeeded" in request("GET", session["url"])[2].decode()


def test_declining_on_the_page_goes_to_the_cancel_url(base, receiver):
    session = stripe_session(base, receiver.url)
    path = urllib.parse.urlsplit(session["url"]).path
    status, headers, _ = request(
        "POST", f"{base}{path}?sync_delivery=1", body=form({"outcome": "decline"})
    )
    assert (status, headers["Location"]) == (303, "http://portal.example/cancelled")
    assert [e.kind for e in events("stripe", receiver.received)] == [EventKind.PAYMENT_FAILED]


def test_control_endpoints_refuse_unknown_and_finished_payments(base):
    assert control(base, "POST", "/_sandbox/stripe/payments/pi_nope/pay")[0] == 404
    pi = stripe_paid(base)
    status, body = control(base, "POST", f"/_sandbox/stripe/payments/{pi}/expire")
    assert status == 409 and body["error"] == "not_open"


# --- webhook delivery and faults ---------------------------------------------------------------


def test_duplicate_deliveries_send_every_webhook_n_times(base, receiver):
    control(base, "POST", "/_sandbox/faults", {"duplicate_deliveries": 3})
    stripe_paid(base, receiver.url)  # payment_intent.succeeded and charge.succeeded
    received = receiver.wait(6)
    assert len(received) == 6 and len({body for _, body in received}) == 2


def test_a_delivery_is_retried_until_a_2xx_answer(base, receiver):
    receiver.answers = [409, 500]
    stripe_paid(base, receiver.url)
    assert len(receiver.wait(4)) == 4
    _, log = control(base, "GET", "/_sandbox/deliveries")
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [
        ("delivered", 3, 200),
        ("delivered", 1, 200),
    ]


def test_a_delivery_gives_up_after_the_last_attempt(base, receiver):
    control(base, "POST", "/_sandbox/faults", {"delivery_attempts": 2})
    receiver.answers = [503] * 5
    stripe_paid(base, receiver.url)
    _, log = control(base, "GET", "/_sandbox/deliveries")
    assert [(d["status"], d["attempts"]) for d in log] == [("failed", 2), ("failed", 2)]


def test_shuffle_reorders_a_payments_deliveries(base, receiver):
    control(base, "POST", "/_sandbox/faults", {"shuffle": True, "duplicate_deliveries": 10})
    checkout_paid(base, receiver.url)
    kinds = [json.loads(body)["type"] for _, body in receiver.wait(20)]
    assert sorted(kinds) == ["payment_approved"] * 10 + ["payment_captured"] * 10
    assert kinds != sorted(kinds)  # in order only once in 184756 shuffles


def test_drop_after_request_records_the_refund_but_never_answers(base):
    pi = stripe_paid(base)
    control(base, "POST", "/_sandbox/faults", {"drop_after_request": True})
    with pytest.raises(http.client.RemoteDisconnected):
        stripe_refund(base, pi, 500, "R-DROP")
    (booked,) = activity(base, "stripe", "refund")
    assert control(base, "DELETE", "/_sandbox/faults")[1]["drop_after_request"] is False
    status, _, body = stripe_refund(base, pi, 500, "R-DROP")  # the retry gets the first answer
    assert status == 200 and json.loads(body)["id"] == booked["provider_reference"]
    assert len(activity(base, "stripe", "refund")) == 1


def test_payout_delay_answers_late_after_recording(base):
    pi = stripe_paid(base)
    control(base, "POST", "/_sandbox/faults", {"payout_delay_seconds": 0.6})
    seen = []
    watcher = threading.Thread(
        target=lambda: (time.sleep(0.3), seen.append(activity(base, "stripe", "refund")))
    )
    started = time.monotonic()
    watcher.start()
    assert stripe_refund(base, pi, 500, "R-SLOW")[0] == 200
    assert time.monotonic() - started >= 0.6
    watcher.join()
    assert len(seen[0]) == 1  # recorded while the caller was still waiting


def test_a_provider_down_answers_5xx_as_it_documents_and_does_nothing(base):
    pi = stripe_paid(base)
    control(base, "POST", "/_sandbox/faults", {"api_error_status": 500})
    status, _, body = stripe_refund(base, pi, 500, "R-DOWN")
    assert status == 500
    assert json.loads(body)["error"]["type"] == "api_error"  # Stripe's server error
    status, _, body = request("POST", f"{base}/checkout/payments", headers=checkout_headers())
    assert status == 500 and body == b"Service Unavailable"
    assert activity(base, "stripe", "refund") == []  # nothing was done
    assert control(base, "GET", "/_sandbox/faults")[0] == 200  # control still answers
    control(base, "DELETE", "/_sandbox/faults")
    assert stripe_refund(base, pi, 500, "R-DOWN")[0] == 200  # the same key, once back
    assert len(activity(base, "stripe", "refund")) == 1


def test_a_provider_that_hangs_holds_every_call_first(base):
    pi = stripe_paid(base)
    control(base, "POST", "/_sandbox/faults", {"api_hang_seconds": 0.5})
    started = time.monotonic()
    assert stripe_refund(base, pi, 500, "R-HANG")[0] == 200
    assert time.monotonic() - started >= 0.5
    assert control(base, "POST", "/_sandbox/faults", {"api_error_status": 404})[0] == 400


def test_faults_are_validated(base):
    assert control(base, "POST", "/_sandbox/faults", {"explode": True})[0] == 400
    assert control(base, "POST", "/_sandbox/faults", {"shuffle": "yes"})[0] == 400
    assert control(base, "POST", "/_sandbox/faults", {"payout_delay_seconds": -1})[0] == 400


# --- disputes ----------------------------------------------------------------------------------


def test_a_stripe_dispute_opens_and_is_won(base, receiver):
    pi = stripe_paid(base, receiver.url)
    receiver.received.clear()
    status, dispute = control(
        base,
        "POST",
        "/_sandbox/stripe/disputes?sync_delivery=1",
        {"payment_reference": pi, "amount": "60.00", "reason": "fraudulent"},
    )
    assert status == 201 and dispute["id"].startswith("dp_")
    status, closed = control(
        base,
        "POST",
        f"/_sandbox/stripe/disputes/{dispute['id']}?sync_delivery=1",
        {"outcome": "won"},
    )
    assert status == 200 and closed["status"] == "won"
    opened, won = events("stripe", receiver.wait(2))
    assert (opened.kind, won.kind) == (EventKind.CHARGEBACK_OPENED, EventKind.CHARGEBACK_WON)
    assert opened.provider_reference == won.provider_reference == dispute["id"]
    assert opened.payment_reference == pi and opened.amount == D("60.00")
    moves = [(m["kind"], m["amount"]) for m in activity(base, "stripe")]
    assert moves == [("payment", "100.00"), ("dispute", "-60.00"), ("dispute_reversal", "60.00")]
    assert (
        control(base, "POST", f"/_sandbox/stripe/disputes/{dispute['id']}", {"outcome": "lost"})[0]
        == 409
    )


def test_checkout_and_skrill_chargebacks_and_no_crypto_chargeback(base, receiver):
    pay_id = checkout_paid(base, receiver.url)
    receiver.received.clear()
    _, dispute = control(
        base, "POST", "/_sandbox/checkout/disputes?sync_delivery=1", {"payment_reference": pay_id}
    )
    control(
        base,
        "POST",
        f"/_sandbox/checkout/disputes/{dispute['id']}?sync_delivery=1",
        {"outcome": "lost"},
    )
    opened, lost = events("checkout", receiver.wait(2))
    assert (opened.kind, lost.kind) == (EventKind.CHARGEBACK_OPENED, EventKind.CHARGEBACK_LOST)
    assert opened.amount == D("100.00") and opened.payment_reference == pay_id

    receiver.received.clear()
    sid = request(
        "POST",
        f"{base}/skrill/pay",
        body=form(
            {
                "pay_to_email": CONFIG["skrill"]["pay_to_email"],
                "transaction_id": "DEP-S",
                "status_url": receiver.url,
                "amount": "80.00",
                "currency": "EUR",
                "prepare_only": "1",
            }
        ),
    )[2].decode()
    _, paid = control(base, "POST", f"/_sandbox/skrill/payments/{sid}/pay?sync_delivery=1")
    control(
        base,
        "POST",
        "/_sandbox/skrill/disputes?sync_delivery=1",
        {"payment_reference": paid["reported_reference"], "reason": "chargeback"},
    )
    payment, chargeback = events("skrill", receiver.wait(2))
    assert chargeback.kind == EventKind.CHARGEBACK_OPENED
    assert chargeback.payment_reference == payment.provider_reference == paid["reported_reference"]

    status, body = control(
        base, "POST", "/_sandbox/coinpayments/disputes", {"payment_reference": "x"}
    )
    assert status == 400 and "cannot be charged back" in body["detail"]


# --- statements --------------------------------------------------------------------------------


def month_activity(psp, base, notify_url):
    """A payment, a refund, a payout and a won chargeback at `psp`, through the adapters."""
    psp_adapter = adapter(psp, base)
    currency = "EUR" if psp == "skrill" else "USD"
    refs = []
    for n in (1, 2):
        session = psp_adapter.create_payment(
            reference=f"DEP-{n}",
            amount=D("100.00"),
            currency=currency,
            customer_email="trader@example.com",
            return_url="http://portal.example/ok",
            cancel_url="http://portal.example/cancelled",
            notify_url=notify_url,
        )
        _, paid = control(
            base, "POST", f"/_sandbox/{psp}/payments/{session.provider_reference}/pay"
        )
        refs.append(paid["reported_reference"])
    psp_adapter.refund(
        reference="REF-1", payment_reference=refs[0], amount=D("30.00"), currency=currency
    )
    psp_adapter.payout(
        reference="WD-1",
        amount=D("20.00"),
        currency=currency,
        payment_reference=refs[0],
        customer_email="trader@example.com",
    )
    if psp != "coinpayments":
        _, dispute = control(
            base, "POST", f"/_sandbox/{psp}/disputes", {"payment_reference": refs[1]}
        )
        control(base, "POST", f"/_sandbox/{psp}/disputes/{dispute['id']}", {"outcome": "won"})
    return currency


GENERIC = ColumnMapping(
    reference="reference",
    amount="amount",
    currency="currency",
    date="date",
    description="description",
    category="category",
)


@pytest.mark.parametrize(
    "psp, fmt",
    [
        ("stripe", "stripe_csv"),
        ("stripe", "camt053"),
        ("stripe", "mt940"),
        ("stripe", "csv"),
        ("checkout", "camt053"),
        ("checkout", "mt940"),
        ("checkout", "csv"),
        ("skrill", "csv"),
        ("skrill", "mt940"),
        ("coinpayments", "camt053"),
    ],
)
def test_the_statement_parses_and_carries_the_activitys_references(psp, fmt, base, receiver):
    currency = month_activity(psp, base, receiver.url)
    today = date.today().isoformat()
    status, headers, data = request(
        "GET", f"{base}/_sandbox/{psp}/statement?from={today}&to={today}&format={fmt}"
    )
    assert status == 200, data
    assert "attachment" in headers["Content-Disposition"]
    rows = list(read_statement(_file(data), fmt, mapping=GENERIC if fmt == "csv" else None))
    moves = activity(base, psp)
    assert [(r.reference, r.amount, r.currency) for r in rows] == [
        (m["provider_reference"], D(m["amount"]), currency) for m in moves
    ]
    assert sum(r.amount for r in rows) == sum(D(m["amount"]) for m in moves)
    if fmt in ("stripe_csv", "csv"):
        categories = [r.category for r in rows]
        payout = "refund" if psp == "stripe" else "withdrawal"
        expected = ["charge", "charge", "refund", payout]
        if psp != "coinpayments":
            expected += ["dispute", "dispute_reversal"]
        assert categories == expected
    if fmt == "stripe_csv":
        assert all(r.payment_reference.startswith("pi_") for r in rows if r.category != "charge")
    if fmt in ("camt053", "mt940"):
        (header,) = read_statement_headers(_file(data), fmt)
        assert header.opening_balance == 0
        assert header.closing_balance == sum(r.amount for r in rows)


def test_the_statement_covers_only_its_period(base, receiver):
    stripe_paid(base)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    _, _, data = request(
        "GET", f"{base}/_sandbox/stripe/statement?from={tomorrow}&to={tomorrow}&format=csv"
    )
    assert list(read_statement(_file(data), "csv", mapping=GENERIC)) == []
    _, _, data = request(
        "GET", f"{base}/_sandbox/stripe/statement?from={tomorrow}&to={tomorrow}&format=mt940"
    )
    (header,) = read_statement_headers(_file(data), "mt940")
    assert header.opening_balance == D("100.00")  # booked before the period


def test_a_bank_statement_needs_one_currency(base):
    stripe_paid(base, reference="DEP-U")
    stripe_paid(base, currency="eur", reference="DEP-E")
    status, body = control(base, "GET", "/_sandbox/stripe/statement?format=camt053")
    assert status == 400 and body["error"] == "currency_required"
    status, _, data = request(
        "GET", f"{base}/_sandbox/stripe/statement?format=camt053&currency=EUR"
    )
    assert status == 200
    assert [r.currency for r in read_statement(_file(data), "camt053")] == ["EUR"]


def test_reset_forgets_everything(base):
    stripe_paid(base)
    control(base, "POST", "/_sandbox/faults", {"shuffle": True})
    assert control(base, "POST", "/_sandbox/reset")[0] == 200
    assert activity(base, "stripe") == []
    assert control(base, "GET", "/_sandbox/faults")[1]["shuffle"] is False


# --- pure helpers ------------------------------------------------------------------------------


def test_skrill_status_signs_as_skrill_documents():
    fields = sandbox.skrill_status(
        transaction_id="DEP-1", mb_transaction_id="123", amount="10.00", currency="EUR", status=2
    )
    conf = CONFIG["skrill"]
    secret = hashlib.md5(conf["secret_word"].encode()).hexdigest().upper()
    raw = f"{conf['merchant_id']}DEP-1{secret}10.00EUR2"
    assert fields["md5sig"] == hashlib.md5(raw.encode()).hexdigest().upper()


def test_stripe_signature_header_signs_timestamp_and_body():
    headers, body = sandbox.signed_webhook("stripe", {"id": "evt_1"}, timestamp=1700000000)
    expected = hmac.new(
        CONFIG["stripe"]["webhook_secret"].encode(), b"1700000000." + body, "sha256"
    ).hexdigest()
    assert headers["Stripe-Signature"] == f"t=1700000000,v1={expected}"


def _file(data: bytes):
    return io.BytesIO(data)
