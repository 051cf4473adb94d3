"""The rows of the demo book's year (`demo.book`), kept by model and written at once: ids
reserved from the tables' sequences, ledger transactions posted the way `ledger_post` writes
them, every row streamed with COPY (`demo.bulk`)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import connection

from clients.models import Deal
from clients.models_access import AccessRecord
from finance.ledger import clearing_for, system_account
from finance.models import (
    Chargeback,
    Deposit,
    Hold,
    LedgerAccount,
    LedgerTransaction,
    PaymentInstrument,
    Posting,
    Refund,
    Transfer,
    Withdrawal,
)
from kyc.models import FinancialProfile, KycSubmission
from leads.models import Lead

from .bulk import copy_rows, reserve_ids
from .finance import FX_RATES

D = Decimal
ACTOR = "system:seed_demo"
BOOK_EMAILS = "@book.demo.test"
USD_RATE = {"USD": D(1), **FX_RATES}


def usd(amount: Decimal, currency: str) -> Decimal:
    return amount * USD_RATE[currency]


def from_usd(amount_usd: float, currency: str) -> Decimal:
    return (D(str(amount_usd)) / USD_RATE[currency]).quantize(D("1"), rounding=ROUND_DOWN)


def token(seed: str, length: int = 16) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


class IdPool:
    """Primary keys reserved from a table's sequence, a block at a time."""

    def __init__(self, model, block: int = 20_000):
        self.model, self.block, self.free = model, block, []

    def __call__(self) -> int:
        if not self.free:
            self.free = reserve_ids(self.model, self.block)[::-1]
        return self.free.pop()


@dataclass
class Person:
    client_id: int
    user_id: int
    email: str
    first_name: str
    last_name: str
    country: str
    desk_id: int | None
    manager_id: int | None
    account_id: int | None  # the trading account (USD)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Rows:
    """Everything the year writes, by model, and the ledger's accounts."""

    by_model: dict = field(default_factory=lambda: defaultdict(list))
    wallets: dict = field(default_factory=dict)  # (client id, currency) -> account id
    system: dict = field(default_factory=dict)  # (kind, currency, psp) -> account id
    ids: dict = field(default_factory=dict)

    def next_id(self, model) -> int:
        if model not in self.ids:
            self.ids[model] = IdPool(model)
        return self.ids[model]()

    def add(self, model, row: dict) -> dict:
        self.by_model[model].append(row)
        return row

    def wallet(self, client_id: int, currency: str) -> int:
        key = (client_id, currency)
        if key not in self.wallets:
            pk = self.next_id(LedgerAccount)
            self.wallets[key] = pk
            self.add(
                LedgerAccount,
                {
                    "id": pk,
                    "kind": LedgerAccount.Kind.CLIENT_WALLET,
                    "currency": currency,
                    "client_id": client_id,
                    "psp": "",
                    "created_at": NOW_HOLDER[0],
                },
            )
        return self.wallets[key]

    def clearing(self, psp: str, currency: str) -> int:
        key = ("psp_clearing", currency, psp)
        if key not in self.system:
            self.system[key] = clearing_for(psp, currency).pk
        return self.system[key]

    def system_account(self, kind: str, currency: str) -> int:
        key = (kind, currency, "")
        if key not in self.system:
            self.system[key] = system_account(kind, currency).pk
        return self.system[key]

    def post(self, *, kind, key, legs, client_id, psp, reference, description, at) -> int:
        """One ledger transaction as `ledger_post` writes it: legs (account id, amount, currency,
        psp of the leg)."""
        pk = self.next_id(LedgerTransaction)
        self.add(
            LedgerTransaction,
            {
                "id": pk,
                "kind": kind,
                "idempotency_key": key,
                "description": description[:255],
                "client_id": client_id,
                "psp": psp,
                "external_reference": reference[:100],
                "actor_id": None,
                "actor_label": ACTOR,
                "posted_at": at,
            },
        )
        for account_id, amount, currency, leg_psp, leg_client in legs:
            self.add(
                Posting,
                {
                    "transaction_id": pk,
                    "account_id": account_id,
                    "amount": amount,
                    "currency": currency,
                    "client_id": leg_client if leg_client is not None else client_id,
                    "psp": leg_psp or psp,
                    "external_reference": reference[:100],
                    "actor_label": ACTOR,
                    "posted_at": at,
                },
            )
        return pk


NOW_HOLDER: list[datetime] = []


def write(rows: Rows) -> dict:
    """Every row, parents first; holds written active, then closed as they ended."""
    order = [
        LedgerAccount,
        Lead,
        KycSubmission,
        FinancialProfile,
        PaymentInstrument,
        LedgerTransaction,
        Posting,
        Hold,
        Deposit,
        Transfer,
        Withdrawal,
        Refund,
        Chargeback,
        Deal,
        AccessRecord,
    ]
    counts = {}
    closing = []
    for hold in rows.by_model.get(Hold, []):
        if hold["status"] != "active":
            closing.append((hold["id"], hold["status"], hold["closed_at"]))
            hold["status"], hold["closed_at"] = "active", None
    for model in order:
        counts[model._meta.label] = copy_rows(model, rows.by_model.get(model, []))
    if closing:
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE finance_hold h SET status = c.status, closed_at = c.closed_at
                     FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])
                          AS c(id, status, closed_at)
                    WHERE h.id = c.id""",
                [[c[0] for c in closing], [c[1] for c in closing], [c[2] for c in closing]],
            )
    return counts
