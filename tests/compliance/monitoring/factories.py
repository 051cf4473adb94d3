"""Money rows written straight into finance's tables at chosen times, for the typologies that
read them (the money flows themselves are tested in tests/finance)."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from clients.models import Deal
from finance.ledger import hold_close, hold_place, wallet_for
from finance.models import (
    Chargeback,
    Deposit,
    Hold,
    PaymentInstrument,
    PaymentMethod,
    Withdrawal,
    new_reference,
)
from tests.clients.factories import fund_wallet, make_account, make_deal
from tests.conftest import make_client_user

_n = itertools.count(1)


def client(name="Tia Trader", **fields):
    first, _, last = name.partition(" ")
    user = make_client_user(f"c{next(_n)}@test.example")
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    c = user.client
    if fields:
        type(c).objects.filter(pk=c.pk).update(**fields)
        c.refresh_from_db()
    return c


def verified_client(name="Tia Trader"):
    """A client who may withdraw: identity verified, document valid."""
    expires = timezone.now().date() + timedelta(days=900)
    return client(name, kyc_level=1, country="GB", id_document_expires_on=expires)


def ago(days=0, hours=0, seconds=0):
    return timezone.now() - timedelta(days=days, hours=hours, seconds=seconds)


def method(psp="stripe", currency="USD"):
    m, _ = PaymentMethod.objects.get_or_create(
        psp=psp,
        currency=currency,
        defaults={"name": psp, "min_amount": 1, "max_amount": 10**7},
    )
    return m


def instrument(c, *, holder="", key=None, country="GB", kind="card"):
    key = key or f"fp_{next(_n)}"
    return PaymentInstrument.objects.create(
        client=c,
        kind=kind,
        provider="stripe",
        key=key,
        label=f"Visa •••• {key[-4:]}",
        last4=key[-4:],
        holder_name=holder,
        country=country,
        first_seen_at=ago(400),
        last_seen_at=ago(),
    )


def deposit(c, amount, *, at=None, status="completed", psp="stripe", currency="USD", inst=None):
    at = at or ago()
    d = Deposit.objects.create(
        reference=new_reference("D"),
        client=c,
        method=method(psp, currency),
        psp=psp,
        amount=Decimal(str(amount)),
        currency=currency,
        instrument=inst,
    )
    Deposit.objects.filter(pk=d.pk).update(
        status=status, created_at=at, completed_at=at if status == "completed" else None
    )
    return Deposit.objects.get(pk=d.pk)


def withdrawal(
    c, amount, *, at=None, status="requested", psp="stripe", currency="USD", funding=None
):
    at = at or ago()
    n = next(_n)
    fund_wallet(c, str(amount), currency, key=f"test-withdrawal-funds:{n}")
    hold = hold_close(
        hold=hold_place(
            account=wallet_for(c, currency),
            amount=Decimal(str(amount)),
            reference=f"test-hold:{n}",
        ),
        status=Hold.Status.RELEASED,
    )
    w = Withdrawal.objects.create(
        reference=new_reference("W"),
        client=c,
        amount=Decimal(str(amount)),
        currency=currency,
        psp=psp,
        hold=hold,
        funding_deposit=funding,
    )
    Withdrawal.objects.filter(pk=w.pk).update(status=status, requested_at=at)
    return Withdrawal.objects.get(pk=w.pk)


def closed_lots(c, lots, *, at=None, account=None):
    account = account or make_account(c)
    return make_deal(
        account, at=at or ago(), entry=Deal.Entry.OUT, volume=int(Decimal(str(lots)) * 10000)
    )


def opening_deal(account, *, at, action, symbol="EURUSD"):
    return make_deal(account, at=at, entry=Deal.Entry.IN, action=action, symbol=symbol)


def chargeback(d, *, at=None):
    cb = Chargeback.objects.create(
        deposit=d,
        provider_reference=f"dp_{next(_n)}",
        amount=d.amount,
        currency=d.currency,
        opened_by_label="test",
    )
    Chargeback.objects.filter(pk=cb.pk).update(opened_at=at or ago())
    return cb


def structuring_book():
    """Two clients who deposited just under the threshold in the last week: one twice, one
    three times (the live structuring version alerts the second; a draft needing two, both)."""
    two, three = client("Two Deposits"), client("Three Deposits")
    for n, amount in enumerate([9500, 9600]):
        deposit(two, amount, at=ago(n + 3))
    for n, amount in enumerate([9500, 9600, 9700]):
        deposit(three, amount, at=ago(n + 3))
    return two, three
