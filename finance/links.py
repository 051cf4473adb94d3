"""What finance tells the links between clients (`clients.links`, hook `client.links`): two
clients who paid with one payment instrument (a card's fingerprint, a wallet's email, a crypto
address, a bank account), and two clients whose deposits name one payer who is neither of them
(a card's holder, a wire's ordering party)."""

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Concat, JSONObject

from clients.links import LinkSource, name_key

from .models import BankEntry, PaymentInstrument

KINDS = dict(PaymentInstrument.Kind.choices)


def _instrument_rows() -> QuerySet:
    return PaymentInstrument.objects.annotate(
        link_client=F("client_id"),
        link_key=Concat("kind", Value(":"), "key"),
        link_detail=JSONObject(kind="kind", label="label", last4="last4"),
    )


def instrument_describe(detail: dict) -> str:
    """ "Same card •••• 4242", "Same e-wallet Skrill a@example.com", "Same crypto address ..."."""
    kind, label = detail.get("kind", ""), detail.get("label", "")
    if kind == PaymentInstrument.Kind.CARD and detail.get("last4"):
        return f"Same card •••• {detail['last4']}"
    if kind == PaymentInstrument.Kind.BANK:
        return f"Same {label[:1].lower()}{label[1:]}" if label else "Same bank account"
    return f"Same {KINDS.get(kind, 'payment instrument').lower()} {label}".strip()


def _not_their_own(qs: QuerySet, name: str) -> QuerySet:
    own = name_key(Concat("client__user__first_name", Value(" "), "client__user__last_name"))
    return (
        qs.exclude(**{name: ""})
        .annotate(link_client=F("client_id"), link_key=name_key(F(name)), link_detail=F(name))
        .exclude(link_key=own)
    )


def _holder_rows() -> QuerySet:
    return _not_their_own(PaymentInstrument.objects.all(), "holder_name")


def _wire_payer_rows() -> QuerySet:
    wires_in = BankEntry.objects.filter(Q(client__isnull=False) & Q(amount__gt=0))
    return _not_their_own(wires_in, "counterparty_name")


def payer_describe(name: str) -> str:
    return f"Same payer name {name}"


INSTRUMENT = LinkSource("instrument", _instrument_rows, instrument_describe, order=40)
CARD_HOLDER = LinkSource("payer_name", _holder_rows, payer_describe, order=60)
WIRE_PAYER = LinkSource("payer_name", _wire_payer_rows, payer_describe, order=61)
SOURCES = (INSTRUMENT, CARD_HOLDER, WIRE_PAYER)
