import itertools
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from finance.models import FxRate, PaymentMethod
from finance.psp import EventKind, WebhookEvent
from finance.services import deposit_create, psp_event_apply
from tests.conftest import make_client_user
from tests.psp_support import control as sandbox_control

D = Decimal
_ids = itertools.count(1)


@pytest.fixture
def methods(db):
    FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": D("1.08")})
    made = {}
    for psp, currency in [
        ("stripe", "USD"),
        ("checkout", "USD"),
        ("skrill", "EUR"),
        ("coinpayments", "USD"),
    ]:
        made[psp] = PaymentMethod.objects.create(
            psp=psp,
            name=f"{psp.title()} {currency}",
            currency=currency,
            min_amount=D("10"),
            max_amount=D("50000"),
        )
    return made


def verified_client(email="trader@test.example", country="GB"):
    client = make_client_user(email).client
    client.kyc_level = 1
    client.country = country
    client.id_document_expires_on = timezone.now().date() + timedelta(days=900)
    client.save()
    return client


def event(kind, *, reference="", provider_reference="", amount=None, currency="USD", **extra):
    n = next(_ids)
    return WebhookEvent(
        event_id=extra.pop("event_id", f"evt_{n}"),
        kind=kind,
        reference=reference,
        provider_reference=provider_reference,
        amount=None if amount is None else D(str(amount)),
        currency=currency,
        occurred_at=timezone.now(),
        raw={"n": n},
        **extra,
    )


def deposit_paid(client, method, amount="100.00"):
    """A deposit through `method`, confirmed by the PSP's success event."""
    deposit = deposit_create(client=client, method=method, amount=amount, actor="test")
    deposit.provider_reference = f"pay_{deposit.pk}"
    type(deposit).objects.filter(pk=deposit.pk).update(
        provider_reference=deposit.provider_reference
    )
    psp_event_apply(
        psp=method.psp,
        event=event(
            EventKind.PAYMENT_SUCCEEDED,
            reference=deposit.reference,
            provider_reference=deposit.provider_reference,
            amount=amount,
            currency=method.currency,
        ),
    )
    return fresh(deposit)


def fresh(obj):
    """The row as stored (FSM-protected fields cannot be refreshed in place)."""
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def psp_sandbox(settings):
    """The PSP sandbox in a thread, with every PSP's API base URL pointing at it."""
    from sandbox import psp

    server = psp.serve("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.PSP_CONFIG = {
        code: {**conf, "api_url": f"{base}/{code}"} for code, conf in settings.PSP_CONFIG.items()
    }
    settings.PSP_TIMEOUT_SECONDS = 5
    sandbox_control(base, "POST", "/_sandbox/faults", {"delivery_backoff_seconds": 0.05})
    yield base
    server.shutdown()
    server.server_close()
