"""Demo finance data: USD rates, the deposit methods of each PSP, and a month of client activity.

Installed by `manage.py seed_demo` once the demo clients exist; idempotent. Money moves only
through the finance services, as in production: deposits are created for the client and settled
by the PSP's event (`psp_event_apply`), withdrawals are requested and checked, the refund is
requested by a finance officer and the chargeback is opened as the PSP reports it. A second run
finds everything again by natural keys and changes nothing:

- rates by currency and methods by (PSP, name), created once (ops may edit them in admin);
- each deposit by its PSP event id, fixed per demo deposit (the event names our reference);
- withdrawals by (client, PSP, currency, amount), refunds by their deposit, chargebacks by the
  PSP's dispute id.

The services stamp every row with the current time, so the activity is dated at seeding.
The refund is answered by the PSP's refund event at once. Auto-approved withdrawals (Skrill
transfers, which need no earlier payment at the PSP) are left for the worker, which pays them
through the sandbox after commit; the withdrawals in review and the open chargeback wait for
finance.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from brokerage.models import User
from brokerage.services import Actor
from clients.models import Client
from clients.services import client_kyc_level_set, client_register
from finance.models import Chargeback, Deposit, FxRate, PaymentMethod, PspEvent, Refund, Withdrawal
from finance.psp import EventKind, WebhookEvent
from finance.psp.base import card_instrument, crypto_instrument, wallet_instrument
from finance.psp.http import to_major_string, to_minor
from finance.psp.stripe import stripe_exponent
from finance.services.chargebacks import chargeback_open
from finance.services.deposits import deposit_create
from finance.services.limits import usd_value
from finance.services.refunds import refund_request
from finance.services.webhooks import psp_event_apply
from finance.services.withdrawals import withdrawal_request

D = Decimal
DEMO_CLIENT = "client@demo.test"
FINANCE_OFFICER = "finance_officer@demo.test"

FX_RATES = {"EUR": D("1.08"), "GBP": D("1.27")}

# The European Economic Area (EU, Iceland, Liechtenstein, Norway).
EEA = [
    *["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"],
    *["IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"],
    *["IS", "LI", "NO"],
]

METHODS = {
    "stripe_usd": {
        "psp": "stripe",
        "name": "Visa / Mastercard in US dollars",
        "currency": "USD",
        "min_amount": D("50"),
        "max_amount": D("10000"),
        "sort_order": 10,
    },
    "stripe_eur": {
        "psp": "stripe",
        "name": "Visa / Mastercard in euros",
        "currency": "EUR",
        "min_amount": D("50"),
        "max_amount": D("10000"),
        "sort_order": 20,
    },
    "checkout_usd": {
        "psp": "checkout",
        "name": "Visa / Mastercard / Amex",
        "currency": "USD",
        "excluded_countries": ["CA"],
        "min_amount": D("100"),
        "max_amount": D("25000"),
        "sort_order": 30,
    },
    "skrill_eur": {
        "psp": "skrill",
        "name": "Skrill wallet",
        "currency": "EUR",
        "countries": [*EEA, "GB"],
        "min_amount": D("20"),
        "max_amount": D("5000"),
        "sort_order": 40,
    },
    "coinpayments_usd": {
        "psp": "coinpayments",
        "name": "Crypto (BTC, ETH, USDT)",
        "currency": "USD",
        "excluded_countries": ["GB"],
        "min_kyc_level": 1,
        "min_amount": D("100"),
        "max_amount": D("50000"),
        "sort_order": 50,
    },
}


@dataclass(frozen=True)
class Trader:
    email: str
    first_name: str
    last_name: str
    country: str
    language: str
    phone: str


TRADERS = [
    Trader("trader01@demo.test", "Lukas", "Becker", "DE", "de", "+4915112345601"),
    Trader("trader02@demo.test", "Sophie", "Martin", "FR", "fr", "+33612345602"),
    Trader("trader03@demo.test", "Ahmed", "Al Mansoori", "AE", "ar", "+971501234503"),
    Trader("trader04@demo.test", "Wei", "Chen", "SG", "en", "+6581234504"),
    Trader("trader05@demo.test", "Isabella", "Rossi", "IT", "it", "+393123456705"),
    Trader("trader06@demo.test", "Jack", "Wilson", "AU", "en", "+61412345606"),
    Trader("trader07@demo.test", "Pieter", "de Vries", "NL", "nl", "+31612345607"),
    Trader("trader08@demo.test", "Carlos", "Ruiz", "ES", "es", "+34612345608"),
    Trader("trader09@demo.test", "Emma", "Johansson", "SE", "sv", "+46701234509"),
    Trader("trader10@demo.test", "Oliver", "Smith", "GB", "en", "+447911123410"),
    Trader("trader11@demo.test", "Zanele", "Dlamini", "ZA", "en", "+27821234511"),
    Trader("trader12@demo.test", "Anna", "Kowalska", "PL", "pl", "+48512345612"),
    Trader("trader13@demo.test", "Liam", "O'Brien", "IE", "en", "+353851234513"),
    Trader("trader14@demo.test", "Lucas", "Müller", "CH", "de", "+41791234514"),
    # Canada, not the United States: US persons are blocked by the default jurisdiction rules.
    Trader("trader15@demo.test", "Michael", "Carter", "CA", "en", "+14165550115"),
]


@dataclass(frozen=True)
class Pay:
    """A deposit through a method, and what the PSP reported about it."""

    method: str
    amount: str
    outcome: str = "succeeded"  # or "failed", "expired", "pending"


@dataclass(frozen=True)
class Withdraw:
    psp: str
    currency: str
    amount: str


@dataclass(frozen=True)
class RefundOf:
    deposit: int  # the client's n-th Pay step
    amount: str
    reason: str


@dataclass(frozen=True)
class ChargebackOf:
    deposit: int
    reason: str


# Each client's activity, in order. Withdrawals of up to USD 2,000 whose checks pass are approved
# automatically; the others wait in finance review with the checks' reasons.
ACTIVITY: list[tuple[str, list]] = [
    (
        DEMO_CLIENT,
        [
            Pay("stripe_usd", "500.00"),
            Pay("checkout_usd", "2500.00"),
            Pay("skrill_eur", "300.00"),
            Pay("stripe_usd", "1000.00", "failed"),
            Withdraw("skrill", "EUR", "120.00"),
            Withdraw("checkout", "USD", "2200.00"),  # over the automatic approval limit
        ],
    ),
    (
        "trader01@demo.test",
        [
            Pay("stripe_eur", "1000.00"),
            Pay("skrill_eur", "250.00"),
            Withdraw("skrill", "EUR", "800.00"),  # more than Skrill funded: closed loop
        ],
    ),
    (
        "trader02@demo.test",
        [
            Pay("stripe_eur", "750.00"),
            Pay("skrill_eur", "400.00"),
            Withdraw("skrill", "EUR", "200.00"),
        ],
    ),
    (
        "trader03@demo.test",
        [
            Pay("checkout_usd", "15000.00"),
            Pay("stripe_usd", "5000.00"),
            Withdraw("checkout", "USD", "12000.00"),  # over the limits; four eyes
        ],
    ),
    (
        "trader04@demo.test",
        [Pay("coinpayments_usd", "3000.00"), Pay("coinpayments_usd", "1200.00", "expired")],
    ),
    (
        "trader05@demo.test",
        [
            Pay("skrill_eur", "600.00"),
            Pay("stripe_eur", "400.00"),
            Withdraw("skrill", "EUR", "150.00"),
        ],
    ),
    ("trader06@demo.test", [Pay("stripe_usd", "2000.00"), Pay("coinpayments_usd", "5000.00")]),
    (
        "trader07@demo.test",
        [
            Pay("checkout_usd", "1500.00"),
            Pay("skrill_eur", "900.00"),
            Pay("stripe_eur", "250.00"),
            RefundOf(2, "250.00", "Duplicate payment: the client paid the same top-up twice."),
        ],
    ),
    (
        "trader08@demo.test",
        [
            Pay("skrill_eur", "300.00"),
            Pay("stripe_eur", "1200.00"),
            Withdraw("skrill", "EUR", "100.00"),  # cancelled by the chargeback below
            ChargebackOf(1, "fraudulent"),
        ],
    ),
    ("trader09@demo.test", [Pay("stripe_eur", "300.00"), Pay("skrill_eur", "200.00")]),
    (
        "trader10@demo.test",
        [
            Pay("stripe_usd", "800.00"),
            Pay("checkout_usd", "2500.00", "failed"),
            Pay("checkout_usd", "1000.00"),
        ],
    ),
    ("trader11@demo.test", [Pay("coinpayments_usd", "800.00"), Pay("stripe_usd", "300.00")]),
    (
        "trader12@demo.test",
        [
            Pay("skrill_eur", "150.00"),
            Pay("stripe_eur", "200.00"),
            Withdraw("skrill", "EUR", "80.00"),
        ],
    ),
    ("trader13@demo.test", [Pay("checkout_usd", "3000.00"), Pay("stripe_eur", "500.00")]),
    (
        "trader14@demo.test",
        [
            Pay("checkout_usd", "10000.00"),
            Pay("stripe_usd", "2000.00"),
            Pay("coinpayments_usd", "2500.00", "pending"),
        ],
    ),
    ("trader15@demo.test", [Pay("stripe_usd", "1000.00"), Pay("coinpayments_usd", "2000.00")]),
]

# Identity documents stay valid this long from the first seeding (one month less per client).
DOCUMENT_VALID_DAYS = 3 * 365


def install_demo_finance(*, actor: Actor) -> None:
    with transaction.atomic():
        fx_rates_install()
        methods = _payment_methods()
        clients = _clients(actor)
        officer = User.objects.get(email=FINANCE_OFFICER)
        for email, steps in ACTIVITY:
            _activity(clients[email], steps, methods, officer)


# --- Configuration -----------------------------------------------------------------------------


def fx_rates_install() -> None:
    """The demo's FX rates (once; the IB demo needs them before the finance demo runs)."""
    for currency, rate in FX_RATES.items():
        FxRate.objects.get_or_create(currency=currency, defaults={"usd_rate": rate})


def _payment_methods() -> dict[str, PaymentMethod]:
    made = {}
    for key, spec in METHODS.items():
        fields = dict(spec)
        psp, name = fields.pop("psp"), fields.pop("name")
        made[key], _ = PaymentMethod.objects.get_or_create(psp=psp, name=name, defaults=fields)
    return made


# --- Clients -----------------------------------------------------------------------------------


def _clients(actor: Actor) -> dict[str, Client]:
    """The demo client and the traders, each verified (KYC level 1, a valid identity document)."""
    clients = {DEMO_CLIENT: Client.objects.select_related("user").get(user__email=DEMO_CLIENT)}
    users = {u.email: u for u in User.objects.filter(email__in=[t.email for t in TRADERS])}
    password = settings.DEMO_PASSWORD
    sample = next(iter(users.values()), None)
    if sample is not None and not sample.check_password(password):  # DEMO_PASSWORD changed
        User.objects.filter(pk__in=[u.pk for u in users.values()]).update(
            password=make_password(password)
        )
    encoded = None
    for trader in TRADERS:
        user = users.get(trader.email)
        if user is None:
            encoded = encoded or make_password(password)  # one hash (slow by design) for all
            user = User.objects.create_user(
                trader.email, first_name=trader.first_name, last_name=trader.last_name
            )
            User.objects.filter(pk=user.pk).update(password=encoded)
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        clients[trader.email] = client_register(
            user=user,
            actor=actor,
            country=trader.country,
            language=trader.language,
            phone=trader.phone,
        )
    today = timezone.now().date()
    for n, client in enumerate(clients.values()):
        _verified(client, actor, today + timedelta(days=DOCUMENT_VALID_DAYS - 30 * n))
    return clients


def _verified(client: Client, actor: Actor, expires_on: date) -> None:
    expiry = client.id_document_expires_on
    if client.kyc_level >= 1 and expiry is not None and expiry > timezone.now().date():
        return
    client_kyc_level_set(
        client=client,
        level=1,
        actor=actor,
        reason="Demo: identity document and proof of address verified.",
        evidence={"document": "passport", "demo": True},
        document_expires_on=expires_on,
    )


# --- Activity ----------------------------------------------------------------------------------


def _activity(client: Client, steps: list, methods: dict, officer: User) -> None:
    deposits: list[Deposit] = []
    for step in steps:
        if isinstance(step, Pay):
            deposits.append(_deposit(client, len(deposits), step, methods[step.method]))
        elif isinstance(step, Withdraw):
            made = Withdrawal.objects.filter(
                client=client, psp=step.psp, currency=step.currency, amount=D(step.amount)
            ).exists()
            if not made:
                withdrawal_request(
                    client=client,
                    amount=step.amount,
                    currency=step.currency,
                    psp=step.psp,
                    actor=client.user,
                )
        elif isinstance(step, RefundOf):
            deposit = deposits[step.deposit]
            if not Refund.objects.filter(deposit=deposit).exists():
                refund = refund_request(
                    deposit=deposit, amount=step.amount, reason=step.reason, actor=officer
                )
                # The PSP's answer, as its refund webhook brings it: the sandbox started by
                # `make up` never saw the demo's payments, so it could not refund them itself.
                psp_event_apply(
                    psp=deposit.psp,
                    event=WebhookEvent(
                        event_id="evt_demo_" + _token(f"{_key(client, step.deposit)}:refund", 20),
                        kind=EventKind.REFUND_SUCCEEDED,
                        reference=refund.reference,
                        provider_reference="re_3" + _token(f"{refund.reference}:re", 23),
                        amount=refund.amount,
                        currency=refund.currency,
                        occurred_at=timezone.now(),
                        payment_reference=deposit.provider_reference,
                    ),
                )
        elif isinstance(step, ChargebackOf):
            deposit = deposits[step.deposit]
            dispute = "dp_1" + _token(f"{_key(client, step.deposit)}:dispute", 23)
            if not Chargeback.objects.filter(deposit=deposit, provider_reference=dispute).exists():
                chargeback_open(
                    deposit=deposit,
                    amount=deposit.remaining_amount,
                    provider_reference=dispute,
                    reason=step.reason,
                    actor=f"psp:{deposit.psp}",
                )
        else:
            raise TypeError(f"not a demo activity step: {step!r}")


def _key(client: Client, index: int) -> str:
    return f"{client.user.email}#{index}"


def _deposit(client: Client, index: int, step: Pay, method: PaymentMethod) -> Deposit:
    """The client's n-th demo deposit: found again by its PSP event, or created and settled."""
    key = _key(client, index)
    if method.psp == "skrill":  # Skrill names its events by our reference: find the payment
        found = PspEvent.objects.filter(psp="skrill", provider_reference=_skrill_id(key))
    else:
        found = PspEvent.objects.filter(
            psp=method.psp, event_id=payment_event_id(method.psp, key, step.outcome)
        )
    reference = found.values_list("reference", flat=True).first()
    if reference:
        return Deposit.objects.get(reference=reference)
    deposit = deposit_create(client=client, method=method, amount=step.amount, actor=client.user)
    event = payment_event(
        method.psp,
        key=key,
        reference=deposit.reference,
        amount=deposit.amount,
        currency=deposit.currency,
        outcome=step.outcome,
        email=client.user.email,
    )
    psp_event_apply(psp=method.psp, event=event)
    return Deposit.objects.get(pk=deposit.pk)


# --- PSP events --------------------------------------------------------------------------------
# What each PSP's webhook says about a payment, with ids in the provider's formats, fixed per demo
# deposit (`key`) so the deposit is found again. `raw` is the webhook's body as the PSP sends it.

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"

SKRILL_STATUS = {"succeeded": "2", "pending": "0", "failed": "-2", "expired": "-1"}
COINPAYMENTS_STATUS = {
    "succeeded": (100, "Complete"),
    "pending": (0, "Waiting for buyer funds..."),
    "expired": (-1, "Cancelled / Timed Out"),
    "failed": (-2, "Cancelled: payment rejected"),
}
STRIPE_DECLINE = "Your card was declined."
CHECKOUT_DECLINE = ("20051", "Declined - Insufficient Funds")
DEMO_BTC_USD = D("64250")


def _token(seed: str, length: int, alphabet: str = ALNUM) -> str:
    """`length` characters of `alphabet`, the same for the same seed."""
    out, block = "", 0
    while len(out) < length:
        digest = hashlib.sha256(f"{seed}/{block}".encode()).digest()
        out += "".join(alphabet[b % len(alphabet)] for b in digest)
        block += 1
    return out[:length]


def _skrill_id(key: str) -> str:
    return str(3_000_000_000 + int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**9)


def payment_event_id(psp: str, key: str, outcome: str, reference: str = "") -> str:
    """The provider's id of the event that reports `outcome` for demo deposit `key` (Skrill's
    is made of signed fields: our `reference` and the status)."""
    if psp == "stripe":
        return "evt_3" + _token(f"{key}:evt:{outcome}", 23)
    if psp == "checkout":
        return "evt_" + _token(f"{key}:evt:{outcome}", 26, HEX)
    if psp == "skrill":
        return f"{reference}:{SKRILL_STATUS[outcome]}"
    if psp == "coinpayments":
        return _token(f"{key}:ipn:{outcome}", 32, HEX)
    raise LookupError(psp)


def payment_event(
    psp: str, *, key: str, reference: str, amount, currency: str, outcome: str, email: str
) -> WebhookEvent:
    """The PSP's event for a demo deposit (our `reference`) that ended in `outcome`."""
    if outcome not in ("succeeded", "failed", "expired", "pending"):
        raise ValueError(outcome)
    build = {
        "stripe": _stripe_event,
        "checkout": _checkout_event,
        "skrill": _skrill_event,
        "coinpayments": _coinpayments_event,
    }[psp]
    event = build(
        key=key,
        event_id=payment_event_id(psp, key, outcome, reference),
        reference=reference,
        amount=amount,
        currency=currency,
        outcome=outcome,
        email=email,
    )
    if event.kind != EventKind.PAYMENT_SUCCEEDED:
        return event
    return replace(event, instrument=demo_payer(psp, email))


def demo_payer(psp: str, email: str):
    """Who paid a demo deposit: one card per client (its own fingerprint), their Skrill wallet,
    or their bitcoin, as each PSP would report it."""
    if psp in ("stripe", "checkout"):
        digits = str(int(hashlib.sha256(email.encode()).hexdigest()[:12], 16))[-4:].zfill(4)
        return card_instrument(
            brand="visa" if int(digits) % 3 else "mastercard",
            last4=digits,
            bin="424242" if psp == "checkout" else "",
            fingerprint=_token(f"{email}:card", 16),
            country="GB",
        )
    if psp == "skrill":
        return wallet_instrument(provider="skrill", email=email)
    return crypto_instrument(coin="BTC", email=email)


def _stripe_event(*, key, event_id, reference, amount, currency, outcome, email) -> WebhookEvent:
    now = timezone.now().replace(microsecond=0)
    created = int(now.timestamp())
    suffix = _token(f"{key}:pi", 23)
    minor = to_minor(amount, currency, places=stripe_exponent(currency))
    detail = ""
    if outcome == "expired":
        kind, event_type = EventKind.PAYMENT_EXPIRED, "checkout.session.expired"
        obj = {
            "id": "cs_test_a1" + _token(f"{key}:cs", 48),
            "object": "checkout.session",
            "amount_total": minor,
            "currency": currency.lower(),
            "client_reference_id": reference,
            "customer_email": email,
            "created": created - 86400,
            "expires_at": created,
            "livemode": False,
            "metadata": {"reference": reference},
            "mode": "payment",
            "payment_intent": f"pi_3{suffix}",
            "payment_status": "unpaid",
            "status": "expired",
        }
    elif outcome == "pending":
        raise ValueError("Stripe reports no pending payment intents to us")
    else:
        succeeded = outcome == "succeeded"
        kind = EventKind.PAYMENT_SUCCEEDED if succeeded else EventKind.PAYMENT_FAILED
        event_type = "payment_intent.succeeded" if succeeded else "payment_intent.payment_failed"
        error = None
        if not succeeded:
            detail = STRIPE_DECLINE
            error = {
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": STRIPE_DECLINE,
                "type": "card_error",
            }
        obj = {
            "id": f"pi_3{suffix}",
            "object": "payment_intent",
            "amount": minor,
            "amount_received": minor if succeeded else 0,
            "currency": currency.lower(),
            "created": created,
            "latest_charge": f"ch_3{suffix}",
            "livemode": False,
            "metadata": {"reference": reference},
            "receipt_email": email,
            "status": "succeeded" if succeeded else "requires_payment_method",
            "last_payment_error": error,
        }
    raw = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "type": event_type,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }
    return WebhookEvent(
        event_id=event_id,
        kind=kind,
        reference=reference,
        provider_reference=f"pi_3{suffix}",
        amount=amount,
        currency=currency,
        occurred_at=now,
        raw=raw,
        detail=detail,
    )


def _checkout_event(*, key, event_id, reference, amount, currency, outcome, email) -> WebhookEvent:
    now = timezone.now().replace(microsecond=0)
    payment_id = "pay_" + _token(f"{key}:pay", 26, LOWER_ALNUM)
    data = {
        "id": payment_id,
        "action_id": "act_" + _token(f"{key}:act:{outcome}", 26, LOWER_ALNUM),
        "reference": reference,
        "amount": to_minor(amount, currency),
        "currency": currency,
        "processed_on": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "response_code": "10000",
        "response_summary": "Approved",
        "metadata": {},
        "customer": {"email": email},
    }
    if outcome == "succeeded":
        kind, event_type = EventKind.PAYMENT_SUCCEEDED, "payment_captured"
    elif outcome == "failed":
        kind, event_type = EventKind.PAYMENT_FAILED, "payment_declined"
        data["response_code"], data["response_summary"] = CHECKOUT_DECLINE
    elif outcome == "expired":
        kind, event_type = EventKind.PAYMENT_EXPIRED, "payment_expired"
        del data["action_id"]
        data["response_summary"] = "Expired"
    else:
        kind, event_type = EventKind.PAYMENT_PENDING, "payment_pending"
        data["response_summary"] = "Pending"
    raw = {
        "id": event_id,
        "type": event_type,
        "version": "1.0.33",
        "created_on": data["processed_on"],
        "data": data,
        "_links": {},
    }
    return WebhookEvent(
        event_id=event_id,
        kind=kind,
        reference=reference,
        provider_reference=payment_id,
        amount=amount,
        currency=currency,
        occurred_at=now,
        raw=raw,
        detail=data["response_summary"],
    )


def _skrill_event(*, key, event_id, reference, amount, currency, outcome, email) -> WebhookEvent:
    config = settings.PSP_CONFIG.get("skrill", {})
    mb_id, status = _skrill_id(key), SKRILL_STATUS[outcome]
    major = to_major_string(amount, currency)
    raw = {
        "pay_to_email": config.get("pay_to_email", ""),
        "pay_from_email": email,
        "merchant_id": config.get("merchant_id", ""),
        "customer_id": str(10**8 + int(mb_id) % 10**7),
        "transaction_id": reference,
        "mb_transaction_id": mb_id,
        "mb_amount": major,
        "mb_currency": currency,
        "status": status,
        "amount": major,
        "currency": currency,
        "payment_type": "WLT",
    }
    detail = ""
    if outcome == "failed":
        raw["failed_reason_code"] = "05"
        detail = "failed_reason_code 05"
    kinds = {
        "succeeded": EventKind.PAYMENT_SUCCEEDED,
        "pending": EventKind.PAYMENT_PENDING,
        "failed": EventKind.PAYMENT_FAILED,
        "expired": EventKind.PAYMENT_EXPIRED,
    }
    return WebhookEvent(
        event_id=event_id,
        kind=kinds[outcome],
        reference=reference,
        provider_reference=mb_id,
        amount=amount,
        currency=currency,
        occurred_at=timezone.now(),
        raw=raw,
        detail=detail,
    )


def _coinpayments_event(
    *, key, event_id, reference, amount, currency, outcome, email
) -> WebhookEvent:
    status, status_text = COINPAYMENTS_STATUS[outcome]
    coins = (usd_value(amount, currency) / DEMO_BTC_USD).quantize(D("0.00000001"))
    raw = {
        "ipn_version": "1.0",
        "ipn_id": event_id,
        "ipn_mode": "hmac",
        "merchant": settings.PSP_CONFIG.get("coinpayments", {}).get("merchant_id", ""),
        "ipn_type": "api",
        "status": str(status),
        "status_text": status_text,
        "txn_id": "CP" + _token(f"{key}:txn", 22, UPPER_ALNUM),
        "currency1": currency,
        "currency2": "BTC",
        "amount1": to_major_string(amount, currency),
        "amount2": str(coins),
        "fee": str((coins * D("0.005")).quantize(D("0.00000001"))),
        "buyer_name": email.split("@")[0],
        "email": email,
        "item_name": f"Deposit {reference}",
        "invoice": reference,
        "custom": reference,
        "received_amount": str(coins) if status >= 100 else "0.00000000",
        "received_confirms": "3" if status >= 100 else "0",
    }
    kinds = {
        "succeeded": EventKind.PAYMENT_SUCCEEDED,
        "pending": EventKind.PAYMENT_PENDING,
        "failed": EventKind.PAYMENT_FAILED,
        "expired": EventKind.PAYMENT_EXPIRED,
    }
    return WebhookEvent(
        event_id=event_id,
        kind=kinds[outcome],
        reference=reference,
        provider_reference=raw["txn_id"],
        amount=amount,
        currency=currency,
        occurred_at=timezone.now(),
        raw=raw,
        detail=status_text,
    )
