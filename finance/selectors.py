"""Reads of finance, scoped by the requesting user.

Clients see only their own wallet and movements; staff need `finance.view_finance`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.errors import NotAllowed
from brokerage.statements import Statement
from clients.standing import Purpose, Reason, Severity

from .bank_details import same_person
from .models import (
    Chargeback,
    Deposit,
    FxRate,
    LedgerAccount,
    PaymentMethod,
    Posting,
    ReconciliationRun,
    Refund,
    Withdrawal,
)
from .models_instruments import PaymentInstrument
from .models_thresholds import COUNTS, ENVIRONMENT, Threshold, ThresholdChange, ThresholdValue
from .models_wires import BANK_WIRE, BankEntry, WireBatch
from .services.limits import closed_loop_capacity, method_available, threshold_values


def finance_standing(client, purpose, *, amount_usd=None):
    """Finance's reasons in a client's standing (`clients.standing`, contributed by
    `finance.contributions`): a client who has had a chargeback has each withdrawal reviewed."""
    if purpose == Purpose.WITHDRAW and "chargeback" in client.risk_flags:
        yield Reason(
            "chargeback_history",
            Severity.REVIEW,
            "The client has had a chargeback.",
            "Your withdrawal needs a review by our finance team.",
        )


def _staff(user) -> None:
    if not (user.is_staff and user.has_perm("finance.view_finance")):
        raise NotAllowed("Finance pages are for finance and compliance staff.")


_WALLETS = Statement(
    lambda v: LedgerAccount.objects.filter(
        kind=LedgerAccount.Kind.CLIENT_WALLET, client_id=v.client_id
    ).order_by("currency")
)


def wallets_for_client(client) -> list[LedgerAccount]:
    """The client's wallets by currency (every wallet page and the 360 ask: compiled once,
    brokerage.statements)."""
    return _WALLETS(client_id=client.pk)


def wallet_currency(holder) -> str:
    """The currency a holder's money is kept in: its first completed deposit's, else its
    oldest wallet's; "" when it has neither (money paid to it stays in its own currency)."""
    first = (
        Deposit.objects.filter(client=holder, status=Deposit.Status.COMPLETED)
        .order_by("completed_at", "pk")
        .values_list("currency", flat=True)
        .first()
    )
    if first:
        return first
    oldest = (
        LedgerAccount.objects.filter(kind=LedgerAccount.Kind.CLIENT_WALLET, client=holder)
        .order_by("pk")
        .values_list("currency", flat=True)
        .first()
    )
    return oldest or ""


def usd_rates_at(at=None) -> dict[str, Decimal]:
    """Each currency's USD value as the rates stood at `at` (now when None): the last change
    recorded by then (`FxRate` keeps its history; a rate first recorded later counts from its
    first record), so a conversion dated `at` gives the same result whenever it is computed
    again. USD is 1."""
    return usd_rates_at_many([at])[at]


def usd_rates_at_many(moments) -> dict:
    """`usd_rates_at` for each of `moments` (None: now), the rates and their history read
    once."""
    current = dict(FxRate.objects.values_list("currency", "usd_rate"))
    history = []
    if any(at is not None for at in moments):
        history = list(
            FxRate.history.order_by("currency", "history_date", "history_id").values_list(
                "currency", "usd_rate", "history_date", "history_type"
            )
        )
    out = {}
    for at in moments:
        rates = dict(current)
        if at is not None:
            found: dict[str, Decimal] = {}
            for currency, rate, when, kind in history:
                if kind != "-" and (currency not in found or when <= at):
                    found[currency] = rate
            rates |= found
        rates["USD"] = Decimal(1)
        out[at] = rates
    return out


def usd_rates_by_day(days) -> dict:
    """`usd_rates_at` the end of each of `days` (dates, UTC): the rate a figure of that day
    converts at."""
    ends = {
        day: datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
        for day in days
    }
    rates = usd_rates_at_many(list(ends.values()))
    return {day: rates[end] for day, end in ends.items()}


def deposit_methods_for(client) -> list[PaymentMethod]:
    """The PSPs' hosted payment pages the client may use (a bank wire needs no page: the
    portal shows the bank details and the client's reference instead)."""
    methods = PaymentMethod.objects.filter(is_active=True).exclude(psp=BANK_WIRE)
    return [m for m in methods if method_available(m, client)]


def withdrawal_options_for(client) -> list[dict]:
    """Each PSP and currency the client funded, with what can still go back to it (a bank
    wire is asked for on its own form, to an IBAN)."""
    from . import psp

    return [
        {"psp": p, "name": psp.PSP_NAMES.get(p, p), "currency": c, "capacity": max(cap, Decimal(0))}
        for (p, c), cap in sorted(closed_loop_capacity(client).items())
        if cap > 0 and p != BANK_WIRE
    ]


def client_movements(client) -> dict[str, QuerySet]:
    """The client's deposits and withdrawals, newest first (the portal's history)."""
    return {
        "deposits": Deposit.objects.filter(client=client).select_related("method"),
        "withdrawals": Withdrawal.objects.filter(client=client),
    }


def statement_postings(*, client, currency: str, start: date, end: date) -> dict:
    """A client's wallet statement for [start, end]: opening balance, lines, closing balance."""
    wallet = LedgerAccount.objects.filter(
        kind=LedgerAccount.Kind.CLIENT_WALLET, client=client, currency=currency
    ).first()
    begin = timezone.make_aware(datetime.combine(start, time.min))
    finish = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
    if wallet is None:
        return {"wallet": None, "opening": Decimal(0), "lines": [], "closing": Decimal(0)}
    opening = wallet.postings.filter(posted_at__lt=begin).aggregate(s=Sum("amount"))["s"] or 0
    lines, running = [], Decimal(opening)
    postings = (
        wallet.postings.filter(posted_at__gte=begin, posted_at__lt=finish)
        .select_related("transaction")
        .order_by("posted_at", "id")
    )
    for p in postings:
        running += p.amount
        lines.append({"posting": p, "balance": running})
    return {"wallet": wallet, "opening": Decimal(opening), "lines": lines, "closing": running}


# --- Staff -------------------------------------------------------------------------------------


def transaction_list(
    *, user, q: str = "", kind: str = "", psp: str = "", start=None, end=None
) -> QuerySet[Posting]:
    """Ledger postings for search and export: one row per leg, newest first."""
    _staff(user)
    qs = Posting.objects.select_related("transaction", "account", "client__user")
    if q:
        filters = Q(external_reference=q) | Q(transaction__description__icontains=q)
        filters |= Q(client__user__email__icontains=q) | Q(transaction__idempotency_key=q)
        if q.isascii() and q.isdigit() and len(q) < 19:
            filters |= Q(transaction_id=int(q)) | Q(client_id=int(q))
        qs = qs.filter(filters)
    if kind:
        qs = qs.filter(transaction__kind=kind)
    if psp:
        qs = qs.filter(psp=psp)
    if start:
        qs = qs.filter(posted_at__date__gte=start)
    if end:
        qs = qs.filter(posted_at__date__lte=end)
    return qs.order_by("-id")


def withdrawal_queue(*, user, status: str = "in_review", q: str = "") -> QuerySet[Withdrawal]:
    _staff(user)
    qs = Withdrawal.objects.select_related("client__user", "first_approval_by")
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(reference__iexact=q) | Q(client__user__email__icontains=q))
    return qs.order_by("requested_at", "pk")  # oldest first


def deposit_list(
    *,
    user,
    status: str = "",
    psp: str = "",
    q: str = "",
    completed: tuple | None = None,
    created: tuple | None = None,
    desk_id: int | None = None,
    country: str = "",
    ftd: bool = False,
) -> QuerySet[Deposit]:
    """Deposits, newest first, narrowed by status, PSP, a search, the days they completed or
    were started in ((first day, last day), UTC), the client's desk and country, and first
    deposits only: the lists the money figures link to."""
    _staff(user)
    qs = Deposit.objects.select_related("client__user", "method", "instrument")
    if status:
        qs = qs.filter(status=status)
    if psp:
        qs = qs.filter(psp=psp)
    for name, days in (("completed_at", completed), ("created_at", created)):
        if days is not None:
            qs = qs.filter(
                **{f"{name}__gte": _midnight(days[0]), f"{name}__lt": _midnight(days[1], 1)}
            )
    if desk_id:
        qs = qs.filter(client__desk_id=desk_id)
    if country:
        qs = qs.filter(client__country=country)
    if ftd:
        qs = qs.filter(is_ftd=True)
    if q:
        qs = qs.filter(
            Q(reference__iexact=q)
            | Q(provider_reference__iexact=q)
            | Q(client__user__email__icontains=q)
        )
    return qs.order_by("-created_at", "-pk")


def deposits_by_psp(*, user, days: int = 30) -> list[dict]:
    """Per PSP and status: count and amount per currency over the last `days`."""
    _staff(user)
    since = timezone.now() - timedelta(days=days)
    return list(
        Deposit.objects.filter(created_at__gte=since)
        .values("psp", "status", "currency")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("psp", "status", "currency")
    )


def deposits_per_day(*, days: int = 14) -> list[dict]:
    start = (timezone.now() - timedelta(days=days - 1)).date()
    rows = (
        Deposit.objects.filter(status=Deposit.Status.COMPLETED, completed_at__date__gte=start)
        .annotate(day=TruncDate("completed_at"))
        .values("day")
        .annotate(n=Count("id"), ftd=Count("id", filter=Q(is_ftd=True)))
    )
    by_day = {r["day"]: r for r in rows}
    out = []
    for i in range(days):
        d = start + timedelta(days=i)
        r = by_day.get(d, {})
        out.append({"day": d.isoformat(), "count": r.get("n", 0), "ftd": r.get("ftd", 0)})
    return out


def chargeback_list(*, user, status: str = "") -> QuerySet[Chargeback]:
    _staff(user)
    qs = Chargeback.objects.select_related("deposit__client__user").annotate(
        evidence_count=Count("evidence")
    )
    qs = qs.filter(status=status) if status else qs
    return qs.order_by("-opened_at", "-pk")


def reconciliation_runs(*, user) -> QuerySet[ReconciliationRun]:
    _staff(user)
    return ReconciliationRun.objects.select_related("created_by")


def finance_summary() -> dict:
    day_ago = timezone.now() - timedelta(hours=24)
    return {
        "pending_withdrawals": Withdrawal.objects.filter(
            status=Withdrawal.Status.IN_REVIEW
        ).count(),
        "deposits_24h": Deposit.objects.filter(
            status=Deposit.Status.COMPLETED, completed_at__gte=day_ago
        ).count(),
        "open_chargebacks": Chargeback.objects.filter(status=Chargeback.Status.OPEN).count(),
        "queued_wires": BankEntry.objects.filter(status=BankEntry.Status.QUEUED).count(),
        "wires_to_send": Withdrawal.objects.filter(
            psp=BANK_WIRE, status=Withdrawal.Status.APPROVED
        ).count(),
    }


def threshold_overview(*, user) -> dict:
    """The money thresholds in force (and where each comes from), the raises waiting for a
    second officer, and the latest changes."""
    from brokerage.money import format_money

    _staff(user)
    values = threshold_values()
    changed = dict(
        ThresholdValue.objects.filter(value__isnull=False).values_list("key", "changed_at")
    )
    waiting = {
        c.key: c
        for c in ThresholdChange.objects.filter(
            status=ThresholdChange.Status.PENDING
        ).select_related("proposed_by")
    }
    rows = []
    for key, label in Threshold.choices:
        value = values[key]
        rows.append(
            {
                "key": key,
                "label": label,
                "value": value if key in COUNTS else format_money(value, "USD"),
                "changed_at": changed.get(key),
                "environment": ENVIRONMENT[key],
                "waiting": waiting.get(key),
            }
        )
    history = ThresholdChange.objects.select_related("proposed_by", "decided_by")[:30]
    return {"rows": rows, "history": list(history)}


def _instruments_seen_with(v):
    # One query whatever the client has: every instrument row with a (kind, key) the client
    # has, theirs and the other clients', split by payment_instrument_list.
    theirs = PaymentInstrument.objects.filter(
        client_id=v.client_id, kind=OuterRef("kind"), key=OuterRef("key")
    )
    return (
        PaymentInstrument.objects.filter(Exists(theirs))
        .select_related("client__user")
        .order_by("-last_seen_at", "-id")
    )


_INSTRUMENTS_SEEN_WITH = Statement(_instruments_seen_with)


def payment_instrument_list(client) -> list[PaymentInstrument]:
    """The instruments a client has paid with, last seen first, each with `shared_with`: the
    other clients seen with the same instrument (linked accounts)."""
    instruments, shared = [], {}
    for row in _INSTRUMENTS_SEEN_WITH(client_id=client.pk):
        if row.client_id == client.pk:
            instruments.append(row)
        else:
            shared.setdefault((row.kind, row.key), []).append(row.client)
    for others in shared.values():
        others.sort(key=lambda other: other.pk)
    for instrument in instruments:
        instrument.shared_with = shared.get((instrument.kind, instrument.key), [])
    return instruments


def instrument_sharers(instruments) -> dict[tuple[str, str], list]:
    """(kind, key) -> the other clients with that instrument, in one query."""
    keys = {(i.kind, i.key) for i in instruments}
    if not keys:
        return {}
    owners = {i.client_id for i in instruments}
    match = Q()
    for kind, key in keys:
        match |= Q(kind=kind, key=key)
    others: dict[tuple[str, str], list] = {}
    rows = (
        PaymentInstrument.objects.filter(match)
        .exclude(client_id__in=owners)
        .select_related("client__user")
        .order_by("client_id")
    )
    for row in rows:
        others.setdefault((row.kind, row.key), []).append(row.client)
    return others


def deposit_payer(deposit) -> dict:
    """Who paid a deposit, for its page: the instrument, the other clients seen with it, and
    whether the holder's name is not the client's (possible third-party funding)."""
    instrument = deposit.instrument
    if instrument is None:
        return {"instrument": None, "shared_with": [], "third_party": False}
    shared = instrument_sharers([instrument]).get((instrument.kind, instrument.key), [])
    holder = instrument.holder_name
    client_name = deposit.client.user.get_full_name()
    third_party = bool(holder and client_name and not same_person(client_name, holder))
    return {"instrument": instrument, "shared_with": shared, "third_party": third_party}


def linked_clients(*, user, client) -> list[dict]:
    """Clients who paid with one of `client`'s instruments: [{"client", "instruments"}]."""
    _staff(user)
    by_client: dict[int, dict] = {}
    for instrument in payment_instrument_list(client):
        for other in instrument.shared_with:
            entry = by_client.setdefault(other.pk, {"client": other, "instruments": []})
            entry["instruments"].append(instrument.label)
    return list(by_client.values())


# --- Bank wires ------------------------------------------------------------------------------


def bank_entry_list(*, user, status: str = "queued", why: str = "", q: str = "") -> QuerySet:
    """The brokerage's bank entries, waiting ones oldest first; `q` finds a payer's name or
    IBAN, the remittance text, the bank's reference or the client's email."""
    _staff(user)
    qs = BankEntry.objects.select_related("client__user", "statement")
    if status:
        qs = qs.filter(status=status)
    if why:
        qs = qs.filter(why=why)
    if q:
        compact = "".join(q.split()).upper()
        qs = qs.filter(
            Q(counterparty_name__icontains=q)
            | Q(counterparty_iban__icontains=compact)
            | Q(remittance__icontains=q)
            | Q(bank_reference__iexact=q)
            | Q(client__user__email__icontains=q)
        )
    if status == BankEntry.Status.QUEUED:
        return qs.order_by("booked_on", "pk")
    return qs.order_by("-booked_on", "-pk")


def wire_payments(*, user) -> dict:
    """Approved wire withdrawals to put in a payment file, those sent and not yet seen paid on
    a statement, and the payment files made."""
    _staff(user)
    wires = Withdrawal.objects.filter(psp=BANK_WIRE).select_related("client__user", "wire")
    return {
        "to_send": wires.filter(status=Withdrawal.Status.APPROVED).order_by("decided_at", "pk"),
        "sent": wires.filter(status=Withdrawal.Status.PROCESSING)
        .select_related("wire__batch")
        .order_by("payout_started_at", "pk"),
        "batches": WireBatch.objects.select_related("created_by").order_by("-created_at")[:20],
    }


def client_find(text: str):
    """The client with this number, login email or payment reference (spaces and case
    ignored), or None."""
    from clients.models import Client

    text = (text or "").strip()
    qs = Client.objects.select_related("user")
    if text.isdigit() and len(text) < 16:
        return qs.filter(pk=int(text)).first()
    if "@" in text:
        return qs.filter(user__email__iexact=text).first()
    return qs.filter(payment_reference="".join(text.split()).upper()).first()


def clients_by_pk(ids) -> list:
    from clients.models import Client

    return list(Client.objects.filter(pk__in=list(ids)).select_related("user").order_by("pk"))


def deposited_usd_by_client(client_ids, *, unpriced: dict | None = None) -> dict[int, Decimal]:
    """USD value of what each client has deposited so far (completed deposits, less refunds
    and chargebacks), set-based: one query, at the rates ops keep. A currency without a rate
    counts at par, unless `unpriced` is given: then it is left out of the total and named
    there ({client_id: sorted currencies}), for a caller that must not guess."""
    from django.db.models import F

    from .models import FxRate

    D = Decimal
    rates = dict(FxRate.objects.values_list("currency", "usd_rate"))
    totals: dict[int, Decimal] = {}
    rows = (
        Deposit.objects.filter(client_id__in=client_ids, status=Deposit.Status.COMPLETED)
        .values("client_id", "currency")
        .annotate(total=Sum(F("amount") - F("refunded_amount") - F("charged_back_amount")))
    )
    missing: dict[int, set] = {}
    for row in rows:
        if unpriced is not None and row["currency"] != "USD" and row["currency"] not in rates:
            missing.setdefault(row["client_id"], set()).add(row["currency"])
            continue
        rate = D(1) if row["currency"] == "USD" else rates.get(row["currency"], D(1))
        value = (row["total"] * rate).quantize(D("0.01"))
        totals[row["client_id"]] = totals.get(row["client_id"], D(0)) + value
    if unpriced is not None:
        unpriced.update({client_id: sorted(found) for client_id, found in missing.items()})
    return totals


def payment_risk_by_client(client_ids) -> dict[int, dict]:
    """Which clients funded with crypto, and which used a payment instrument another client
    also used (third-party or shared funding): {client_id: {"crypto": bool, "shared": bool}}."""
    out: dict[int, dict] = {}
    crypto = set(
        Deposit.objects.filter(
            client_id__in=client_ids, status=Deposit.Status.COMPLETED, psp="coinpayments"
        ).values_list("client_id", flat=True)
    ) | set(
        PaymentInstrument.objects.filter(
            client_id__in=client_ids, kind=PaymentInstrument.Kind.CRYPTO
        ).values_list("client_id", flat=True)
    )
    other = PaymentInstrument.objects.filter(kind=OuterRef("kind"), key=OuterRef("key")).exclude(
        client_id=OuterRef("client_id")
    )
    shared = set(
        PaymentInstrument.objects.filter(client_id__in=client_ids)
        .filter(Exists(other))
        .values_list("client_id", flat=True)
    )
    for client_id in crypto | shared:
        out[client_id] = {"crypto": client_id in crypto, "shared": client_id in shared}
    return out


def _midnight(day, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time(), UTC)


def clients_by_ftd_psp(value: str):
    """The client list's `psp` filter (`clients.list_filters`): clients whose first deposit
    went through that PSP, as the FTD figure split by PSP counts them; None for no PSP."""
    from django.db.models import Exists, OuterRef

    from .psp import PSP_NAMES

    if value not in PSP_NAMES:
        return None
    ftd = Deposit.objects.filter(client=OuterRef("pk"), is_ftd=True, psp=value)
    return Exists(ftd), f"first deposit through {PSP_NAMES[value]}"


# The records behind the leadership money figures (finance.rollups), as each is counted there:
# each kind's model, status condition, the time that dates it, and the path to its client.
MONEY_KINDS = {
    "deposits": ("Deposits", Deposit, Q(status="completed"), "completed_at", "client"),
    "withdrawals": ("Withdrawals paid", Withdrawal, Q(status="paid"), "completed_at", "client"),
    "refunds": ("Refunds", Refund, Q(status="succeeded"), "completed_at", "deposit__client"),
    "chargebacks": (
        "Chargebacks",
        Chargeback,
        ~Q(status="won"),
        "opened_at",
        "deposit__client",
    ),
}


def money_figure_list(
    *,
    user,
    kind: str,
    days: tuple[date, date],
    desk_id: int | None = None,
    country: str = "",
    psp: str = "",
    ftd: bool = False,
) -> QuerySet:
    """The deposits completed, withdrawals paid, refunds succeeded or chargebacks opened (not
    won) in `days` ((first, last), UTC) behind the money figures, as the figures count them:
    clients only (never partners' account holders), of the desks whose figures `user` reads
    (brokerage.leadership: a desk manager's desks, an executive's every desk), narrowed by a
    desk, a country, a PSP (the deposit's) and first deposits; newest first. Read only."""
    from brokerage.leadership import leadership_desks

    _label, model, condition, dated, client = MONEY_KINDS[kind]
    qs = model.objects.filter(condition, **{f"{client}__holder": "client"})
    qs = qs.filter(**{f"{dated}__gte": _midnight(days[0]), f"{dated}__lt": _midnight(days[1], 1)})
    desks = leadership_desks(user)
    if desks is not None:
        qs = qs.filter(**{f"{client}__desk__in": desks.values("pk")})
    if desk_id:
        qs = qs.filter(**{f"{client}__desk_id": desk_id})
    if country:
        qs = qs.filter(**{f"{client}__country": country})
    if psp:
        qs = qs.filter(**{"psp" if client == "client" else "deposit__psp": psp})
    if ftd and kind == "deposits":
        qs = qs.filter(is_ftd=True)
    return qs.select_related(f"{client}__user").order_by(f"-{dated}", "-pk")


def money_figure_totals(rows: QuerySet) -> list[dict]:
    """A `money_figure_list`'s count and amount per currency (one query)."""
    return list(
        rows.order_by()
        .values("currency")
        .annotate(n=Count("pk"), total=Sum("amount"))
        .order_by("currency")
    )
