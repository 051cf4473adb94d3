"""The client's wallet in the portal over HTTP: pages, deposits, withdrawals, cancellation."""

import re
import socket
import urllib.request
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import override_settings

from finance.ledger import wallet_for
from finance.models import Deposit, Hold, PaymentMethod, Withdrawal
from finance.psp import PSP_NAMES, EventKind
from finance.services import deposit_create, psp_event_apply, withdrawal_request
from tests.conftest import PASSWORD, login, make_client_user, make_partner_user, make_staff
from tests.finance.conftest import deposit_paid, event, fresh, verified_client


def text_of(html: str) -> str:
    """The page's text without tags (amounts sit in their own no-wrap spans)."""
    return re.sub(r"<[^>]+>", "", html)


pytestmark = pytest.mark.django_db

D = Decimal
WALLET = "/portal/wallet/"
DEPOSIT = "/portal/wallet/deposit/"
WITHDRAW = "/portal/wallet/withdraw/"
STATEMENT = "/portal/wallet/statement.pdf"


@pytest.fixture
def funded(methods):
    """A verified client with USD 500.00 deposited through Stripe."""
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "500.00")
    return client, deposit


def cancel_url(reference):
    return f"/portal/wallet/withdrawals/{reference}/cancel/"


def available(client, currency="USD"):
    return fresh(wallet_for(client, currency)).available_amount


def flash(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Access ----------------------------------------------------------------------------------


def _urls(deposit):
    return [
        WALLET,
        DEPOSIT,
        WITHDRAW,
        f"/portal/wallet/deposit/{deposit.reference}/",
        f"{STATEMENT}?currency=USD&month=2026-01",
    ]


def test_every_page_opens_for_the_client(client, funded):
    customer, deposit = funded
    login(client, customer.user)
    for url in _urls(deposit):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("audience", ["finance_officer", "sales_agent", "partner"])
def test_staff_and_partners_are_refused(client, funded, audience):
    _, deposit = funded
    user = make_partner_user() if audience == "partner" else make_staff(audience)
    login(client, user)
    for url in _urls(deposit):
        assert client.get(url).status_code == 403, url
    assert client.post(DEPOSIT, {"method": deposit.method_id, "amount": "50"}).status_code == 403
    assert client.post(cancel_url("WANY")).status_code == 403
    assert Deposit.objects.count() == 1


def test_anonymous_visitors_are_sent_to_login(client, funded):
    _, deposit = funded
    for url in _urls(deposit):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")
    assert client.post(cancel_url("WANY"))["Location"].startswith("/accounts/login/")


def test_another_clients_deposit_and_withdrawal_are_404(client, methods, funded):
    owner, deposit = funded
    withdrawal = withdrawal_request(
        client=owner, amount="20", currency="USD", psp="stripe", actor="test"
    )
    login(client, make_client_user("other@test.example"))
    assert client.get(f"/portal/wallet/deposit/{deposit.reference}/").status_code == 404
    assert client.post(cancel_url(withdrawal.reference)).status_code == 404
    assert fresh(withdrawal).status == Withdrawal.Status.APPROVED
    page = client.get(WALLET)
    assert deposit.reference.encode() not in page.content
    assert withdrawal.reference.encode() not in page.content


def test_cancel_is_post_only(client, funded):
    customer, _ = funded
    w = withdrawal_request(client=customer, amount="20", currency="USD", psp="stripe", actor="t")
    login(client, customer.user)
    assert client.get(cancel_url(w.reference)).status_code == 405
    assert fresh(w).status == Withdrawal.Status.APPROVED


# --- Wallet and history ----------------------------------------------------------------------


def test_wallet_shows_balances_and_both_kinds_of_movement(client, funded):
    customer, deposit = funded
    w = withdrawal_request(client=customer, amount="120", currency="USD", psp="stripe", actor="t")
    login(client, customer.user)
    page = client.get(WALLET)
    html = page.content.decode()
    assert 'data-wallet="USD"' in html
    assert "USD 500.00" in html  # balance
    assert "USD 120.00" in html  # held
    assert "USD 380.00" in html  # available
    assert f'data-reference="{deposit.reference}"' in html
    assert f'data-reference="{w.reference}"' in html
    assert "Stripe (cards)" in html
    assert f'data-cancel="{w.reference}"' in html  # approved: still cancellable
    rows = [r["kind"] for r in page.context["rows"]]
    assert rows == ["withdrawal", "deposit"]  # newest first


def test_history_filters_by_type_and_status(client, funded, methods):
    customer, deposit = funded
    pending = deposit_create(client=customer, method=methods["skrill"], amount="30", actor="t")
    w = withdrawal_request(client=customer, amount="20", currency="USD", psp="stripe", actor="t")
    login(client, customer.user)

    def refs(query):
        return [r["reference"] for r in client.get(f"{WALLET}?{query}").context["rows"]]

    assert refs("type=withdrawal") == [w.reference]
    assert set(refs("type=deposit")) == {deposit.reference, pending.reference}
    assert refs("status=pending") == [pending.reference]
    assert refs("type=deposit&status=completed") == [deposit.reference]
    assert refs("status=approved") == [w.reference]
    assert refs("type=withdrawal&status=completed") == []
    assert len(refs("type=nonsense&status=nonsense")) == 3  # unknown filters are ignored


def test_paid_and_cancelled_withdrawals_have_no_cancel_button(client, funded):
    customer, _ = funded
    w = withdrawal_request(client=customer, amount="20", currency="USD", psp="stripe", actor="t")
    Withdrawal.objects.filter(pk=w.pk).update(status=Withdrawal.Status.PROCESSING)
    login(client, customer.user)
    html = client.get(WALLET).content.decode()
    assert f'data-reference="{w.reference}"' in html
    assert f'data-cancel="{w.reference}"' not in html
    assert "Paying out" in html


def test_history_query_count_does_not_grow_with_rows(
    client, methods, django_assert_max_num_queries
):
    customer = verified_client()
    login(client, customer.user)
    deposit_paid(customer, methods["stripe"], "1000.00")
    withdrawal_request(client=customer, amount="10", currency="USD", psp="stripe", actor="t")

    def add(n):
        for _ in range(n):
            deposit_create(client=customer, method=methods["checkout"], amount="10", actor="t")

    add(2)  # 3 deposits (one completed), one withdrawal
    # the page itself, the notices every portal page asks the apps for, and the terms due
    with django_assert_max_num_queries(10) as few:
        small = client.get(WALLET)
    add(27)  # 30 deposits: two pages of history
    with django_assert_max_num_queries(10) as many:
        large = client.get(WALLET)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(small.context["rows"]) == 4
    assert len(large.context["rows"]) == 20
    assert large.context["page"].paginator.count == 31
    second = client.get(f"{WALLET}?page=2")
    assert len(second.context["rows"]) == 11
    assert b"Page 2 of 2" in second.content


def test_a_client_without_funds_sees_how_to_start(as_role):
    page = as_role("client").get(WALLET)
    assert page.status_code == 200
    assert b"data-no-wallet" in page.content
    assert b"No deposits or withdrawals yet" in page.content


# --- Deposits --------------------------------------------------------------------------------


def test_the_deposit_page_lists_the_methods_offered(client, methods):
    PaymentMethod.objects.create(
        psp="stripe",
        name="Cards for verified clients",
        currency="USD",
        min_amount=D("10"),
        max_amount=D("90000"),
        min_kyc_level=2,
    )
    PaymentMethod.objects.create(
        psp="skrill",
        name="Skrill GBP",
        currency="GBP",
        min_amount=D("10"),
        max_amount=D("500"),
        is_active=False,
    )
    login(client, verified_client().user)
    html = client.get(DEPOSIT).content.decode()
    for method in methods.values():
        assert method.name in html
    assert "USD 10.00 – USD 50,000.00 per deposit" in text_of(html)
    assert PSP_NAMES["skrill"] in html
    assert "Cards for verified clients" not in html
    assert "Skrill GBP" not in html


def test_a_valid_deposit_redirects_to_the_psp_page(client, methods, psp_sandbox):
    customer = verified_client()
    login(client, customer.user)
    response = client.post(DEPOSIT, {"method": methods["stripe"].pk, "amount": "250.00"})
    deposit = Deposit.objects.get(client=customer)
    assert response.status_code == 302
    assert deposit.status == Deposit.Status.PENDING
    assert deposit.amount == D("250.00")
    assert deposit.provider_reference.startswith("pi_")
    assert response["Location"] == deposit.redirect_url
    assert response["Location"].startswith(f"{psp_sandbox}/stripe/")
    with urllib.request.urlopen(response["Location"], timeout=10) as hosted:  # the PSP's page
        page = hosted.read().decode()
    assert "250.00" in page and "USD" in page
    assert deposit.reference in page
    assert customer.user.email in page


def test_the_deposit_page_lets_its_form_lead_to_the_psp_page(client, methods, psp_sandbox):
    """Browsers hold a form's redirect to the page's CSP form-action: the PSP's hosted page
    must be allowed there, and only on the deposit page."""
    login(client, verified_client().user)
    policy = client.get(DEPOSIT)["Content-Security-Policy"]
    form_action = next(d for d in policy.split(";") if d.strip().startswith("form-action"))
    assert form_action.split()[1:] == ["'self'", "https:", psp_sandbox]
    wallet_policy = client.get(WALLET)["Content-Security-Policy"]
    assert "form-action 'self';" in wallet_policy + ";"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_deposit_through_the_psp_page(page, live_server, methods, psp_sandbox):
    customer = verified_client()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", customer.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}{WALLET}")
    page.click("main a:has-text('Deposit')")
    page.click(f"label[for=method-{methods['stripe'].pk}]")
    page.fill("input[name=amount]", "120.00")
    page.click("main form[data-deposit-form] button[type=submit]")
    page.wait_for_url(re.compile(re.escape(psp_sandbox)))
    page.click("button.pay")  # the PSP's hosted page
    page.wait_for_url(re.compile(r"/portal/wallet/deposit/D[0-9A-F]+/"))
    page.wait_for_selector('[data-deposit-status="completed"]', timeout=20_000)  # htmx polling
    assert "USD 120.00" in page.inner_text("[data-new-balance]")
    page.goto(f"{live_server.url}{WALLET}")
    assert page.inner_text('[data-wallet="USD"] [data-available]') == "USD 120.00"
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
    assert Deposit.objects.get(client=customer).status == Deposit.Status.COMPLETED


def test_an_amount_outside_the_methods_limits_is_refused(client, methods):
    login(client, verified_client().user)
    response = client.post(DEPOSIT, {"method": methods["stripe"].pk, "amount": "5"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "takes USD 10.00 to USD 50,000.00 per deposit" in text_of(html)
    assert "Outside the method&#x27;s limits." in html
    assert not Deposit.objects.exists()


def test_the_unverified_limit_is_refused_with_a_pointer_to_kyc(client, methods):
    customer = make_client_user("new@test.example").client
    login(client, customer.user)
    assert b"data-kyc-notice" in client.get(DEPOSIT).content
    response = client.post(DEPOSIT, {"method": methods["stripe"].pk, "amount": "2500"})
    assert response.status_code == 400
    assert response.content.count(b"Verify your identity to deposit more than USD 2,000") == 1
    assert not Deposit.objects.exists()


@pytest.mark.parametrize("amount", ["abc", "", "-5", "10.001", "NaN"])
def test_a_bad_amount_is_a_form_error(client, methods, amount):
    login(client, verified_client().user)
    response = client.post(DEPOSIT, {"method": methods["stripe"].pk, "amount": amount})
    assert response.status_code == 400
    assert b'data-field-error="amount"' in response.content
    assert not Deposit.objects.exists()


def test_methods_not_offered_to_the_client_are_refused(client, methods):
    inactive = PaymentMethod.objects.create(
        psp="stripe",
        name="Old cards",
        currency="USD",
        min_amount=D("10"),
        max_amount=D("500"),
        is_active=False,
    )
    elsewhere = PaymentMethod.objects.create(
        psp="skrill",
        name="Skrill for France",
        currency="EUR",
        min_amount=D("10"),
        max_amount=D("500"),
        countries=["FR"],
    )
    login(client, verified_client(country="GB").user)
    for method_id in [inactive.pk, elsewhere.pk, 999999, "x"]:
        response = client.post(DEPOSIT, {"method": method_id, "amount": "50"})
        assert response.status_code == 400
        assert b"Choose one of the payment methods offered to you." in response.content
    assert not Deposit.objects.exists()


def test_the_psp_being_down_is_explained_and_the_deposit_failed(client, methods):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {**settings.PSP_CONFIG}
    config["stripe"] = {**config["stripe"], "api_url": f"http://127.0.0.1:{port}/stripe"}
    login(client, verified_client().user)
    with override_settings(PSP_CONFIG=config, PSP_TIMEOUT_SECONDS=3):
        response = client.post(DEPOSIT, {"method": methods["stripe"].pk, "amount": "50"})
    assert response.status_code == 502
    assert b"could not be reached, so nothing was charged" in response.content
    deposit = Deposit.objects.get()
    assert deposit.status == Deposit.Status.FAILED
    assert "could not open the payment" in deposit.failure_reason


def test_the_deposit_status_page_polls_until_the_payment_completes(client, methods):
    customer = verified_client()
    deposit = deposit_create(client=customer, method=methods["stripe"], amount="75", actor="t")
    Deposit.objects.filter(pk=deposit.pk).update(status="pending", provider_reference="pi_75")
    login(client, customer.user)
    url = f"/portal/wallet/deposit/{deposit.reference}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'hx-trigger="every 2s"' in page.content
    assert b"Waiting for the payment provider" in page.content
    left = client.get(f"{url}?cancelled=1")
    assert b"You left the payment page" in left.content
    assert f'hx-get="{url}?cancelled=1"'.encode() in left.content

    psp_event_apply(
        psp="stripe",
        event=event(
            EventKind.PAYMENT_SUCCEEDED,
            reference=deposit.reference,
            provider_reference="pi_75",
            amount="75",
        ),
    )
    fragment = client.get(f"{url}?cancelled=1", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<nav" not in html  # the fragment alone
    assert 'data-deposit-status="completed"' in html
    assert "hx-trigger" not in html  # polling stops
    assert "You left the payment page" not in html
    assert "New balance" in html and "USD 75.00" in html


def test_a_failed_deposit_stops_polling(client, methods):
    customer = verified_client()
    deposit = deposit_create(client=customer, method=methods["stripe"], amount="75", actor="t")
    psp_event_apply(
        psp="stripe",
        event=event(EventKind.PAYMENT_FAILED, reference=deposit.reference, detail="declined"),
    )
    login(client, customer.user)
    html = client.get(f"/portal/wallet/deposit/{deposit.reference}/").content.decode()
    assert 'data-deposit-status="failed"' in html
    assert "did not go through" in html
    assert "hx-trigger" not in html


# --- Withdrawals -----------------------------------------------------------------------------


def test_the_withdraw_page_offers_the_closed_loop_options(client, funded, methods):
    customer, _ = funded
    deposit_paid(customer, methods["skrill"], "80.00")
    login(client, customer.user)
    html = client.get(WITHDRAW).content.decode()
    assert "data-closed-loop" in html
    assert 'data-option="stripe:USD"' in html and "Up to USD 500.00" in text_of(html)
    assert 'data-option="skrill:EUR"' in html and "Up to EUR 80.00" in text_of(html)
    assert "data-kyc-required" not in html


def test_a_small_withdrawal_is_approved_at_once(client, funded):
    customer, _ = funded
    login(client, customer.user)
    response = client.post(WITHDRAW, {"option": "stripe:USD", "amount": "100"}, follow=True)
    assert response.redirect_chain == [(WALLET, 302)]
    w = Withdrawal.objects.get(client=customer)
    assert w.status == Withdrawal.Status.APPROVED
    assert any(m.startswith("Approved: your payout") for m in flash(response))
    assert "is on its way" in response.content.decode()
    assert available(customer) == D("400.00")


def test_a_large_withdrawal_goes_to_review_without_showing_why(client, methods):
    customer = verified_client()
    deposit_paid(customer, methods["stripe"], "5000.00")
    login(client, customer.user)
    response = client.post(WITHDRAW, {"option": "stripe:USD", "amount": "3000"}, follow=True)
    w = Withdrawal.objects.get(client=customer)
    assert w.status == Withdrawal.Status.IN_REVIEW
    assert w.check_reasons  # the reasons exist, for finance only
    html = response.content.decode()
    assert "We are reviewing your request" in html
    assert "may contact you" in html
    for reason in w.check_reasons:
        assert reason["message"] not in html
    assert "automatic approval limit" not in html
    assert "In review" in html


def test_more_than_available_is_refused(client, funded):
    customer, _ = funded
    withdrawal_request(client=customer, amount="450", currency="USD", psp="stripe", actor="t")
    login(client, customer.user)
    response = client.post(WITHDRAW, {"option": "stripe:USD", "amount": "100"})
    assert response.status_code == 400
    assert b"Only USD 50.00 is available." in response.content
    assert b"More than the available balance." in response.content
    assert Withdrawal.objects.filter(client=customer).count() == 1


def test_a_method_the_client_did_not_fund_is_refused(client, funded):
    customer, _ = funded
    login(client, customer.user)
    for option in ["skrill:EUR", "nope:USD", ""]:
        response = client.post(WITHDRAW, {"option": option, "amount": "10"})
        assert response.status_code == 400
        assert b'data-field-error="option"' in response.content
    response = client.post(WITHDRAW, {"option": "stripe:USD", "amount": "ten"})
    assert response.status_code == 400
    assert not Withdrawal.objects.exists()


def test_an_unverified_client_is_asked_to_verify_first(client, methods):
    customer = make_client_user("new@test.example").client
    deposit_paid(customer, methods["stripe"], "100.00")
    login(client, customer.user)
    page = client.get(WITHDRAW)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Verify your identity before withdrawing" in html
    assert 'href="/portal/verify/"' in html
    assert "data-withdraw-form" not in html
    response = client.post(WITHDRAW, {"option": "stripe:USD", "amount": "50"})
    assert response.status_code == 403
    assert b"Verify your identity before withdrawing" in response.content
    assert not Withdrawal.objects.exists()


def test_cancel_releases_the_hold(client, funded):
    customer, _ = funded
    w = withdrawal_request(client=customer, amount="200", currency="USD", psp="stripe", actor="t")
    assert available(customer) == D("300.00")
    login(client, customer.user)
    response = client.post(cancel_url(w.reference), follow=True)
    assert response.redirect_chain == [(WALLET, 302)]
    w = fresh(w)
    assert w.status == Withdrawal.Status.CANCELLED
    assert w.decision_reason == "Cancelled by the client"
    assert Hold.objects.get(pk=w.hold_id).status == Hold.Status.RELEASED
    assert available(customer) == D("500.00")
    assert any("cancelled" in m and "available in your wallet again" in m for m in flash(response))
    assert f'data-cancel="{w.reference}"'.encode() not in response.content


def test_cancel_after_the_payout_started_shows_why_not(client, funded):
    customer, _ = funded
    w = withdrawal_request(client=customer, amount="200", currency="USD", psp="stripe", actor="t")
    Withdrawal.objects.filter(pk=w.pk).update(status=Withdrawal.Status.PROCESSING)
    login(client, customer.user)
    response = client.post(cancel_url(w.reference), follow=True)
    assert "The payout has started; it can no longer be cancelled." in flash(response)
    assert fresh(w).status == Withdrawal.Status.PROCESSING
    assert available(customer) == D("300.00")


def test_cancel_under_htmx_redirects_the_page(client, funded):
    customer, _ = funded
    w = withdrawal_request(client=customer, amount="20", currency="USD", psp="stripe", actor="t")
    login(client, customer.user)
    response = client.post(cancel_url(w.reference), headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == WALLET
    assert fresh(w).status == Withdrawal.Status.CANCELLED


# --- Statement form on the wallet page -------------------------------------------------------


def test_the_wallet_page_offers_a_statement_per_wallet(client, funded):
    customer, _ = funded
    login(client, customer.user)
    html = client.get(WALLET).content.decode()
    assert f'action="{STATEMENT}"' in html
    assert '<option value="USD" selected>USD</option>' in html


def test_absurd_amounts_and_dates_are_clear_errors_not_crashes(client, funded):
    customer, _ = funded
    login(client, customer.user)
    for amount in ("1e30", "-5", "NaN", "12.345"):
        r = client.post(WITHDRAW, {"option": "stripe:USD", "amount": amount})
        assert r.status_code == 400, amount
    assert not Withdrawal.objects.exists()
    r = client.get(f"{WALLET}statement.pdf?currency=USD&month=9999-12")
    assert r.status_code == 400
