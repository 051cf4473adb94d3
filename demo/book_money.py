"""One client's money in the demo book's year, recorded as the finance services record it:
deposits (with the instrument the PSP reports), transfers to and from the trading account,
withdrawals back to the funding PSP, refunds and chargebacks, each completed movement one
ledger transaction with the services' keys, accounts and legs."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from finance.models import (
    Chargeback,
    Deposit,
    Hold,
    LedgerAccount,
    LedgerTransaction,
    PaymentInstrument,
    Refund,
    Transfer,
    Withdrawal,
)

from .book_rows import D, Person, Rows, token

# --- Money ---------------------------------------------------------------------------------


class Wallets:
    """A client's wallet balances as their year unfolds (what is available at each step)."""

    def __init__(self):
        self.balance: dict[str, Decimal] = defaultdict(Decimal)


def provider_reference(psp: str, seed: str) -> str:
    if psp == "stripe":
        return "pi_3" + token(seed, 23)
    if psp == "checkout":
        return "pay_" + token(seed, 26)
    if psp == "skrill":
        return str(3_000_000_000 + int(token(seed, 12), 16) % 10**9)
    return "CP" + token(seed, 22).upper()


def instrument_row(rows: Rows, person: Person, psp: str, at: datetime, **override) -> dict:
    """The client's own instrument for `psp`: their card, their Skrill wallet, their bitcoin."""
    seed = f"{person.email}:{psp}"
    if psp in ("stripe", "checkout"):
        last4 = str(int(token(seed + ":last4", 8), 16) % 10_000).zfill(4)
        brand = "visa" if int(last4) % 3 else "mastercard"
        fields = {
            "kind": PaymentInstrument.Kind.CARD,
            "key": token(seed + ":fingerprint", 16),
            "label": f"{brand.title()} •••• {last4}",
            "brand": brand,
            "bin": "424242" if psp == "checkout" else "",
            "last4": last4,
            "email": "",
            "address": "",
            "holder_name": person.name.upper(),
            "country": person.country,
        }
    elif psp == "skrill":
        fields = {
            "kind": PaymentInstrument.Kind.WALLET,
            "key": person.email,
            "label": f"Skrill {person.email}",
            "brand": "",
            "bin": "",
            "last4": "",
            "email": person.email,
            "address": "",
            "holder_name": person.name,
            "country": person.country,
        }
    else:
        address = "bc1q" + token(seed + ":address", 38)
        fields = {
            "kind": PaymentInstrument.Kind.CRYPTO,
            "key": f"BTC:{address}",
            "label": f"BTC {address[:10]}…",
            "brand": "",
            "bin": "",
            "last4": "",
            "email": "",
            "address": address,
            "holder_name": "",
            "country": "",
        }
    fields |= override
    return rows.add(
        PaymentInstrument,
        {
            "id": rows.next_id(PaymentInstrument),
            "client_id": person.client_id,
            "provider": psp,
            "first_seen_at": at,
            "last_seen_at": at,
            **fields,
        },
    )


class Money:
    """Writes one client's movements the way the finance services record them."""

    def __init__(self, rows: Rows, person: Person, methods: dict, now: datetime):
        self.rows, self.person, self.methods, self.now = rows, person, methods, now
        self.wallets = Wallets()
        self.instruments: dict[str, dict] = {}
        self.deposits: list[dict] = []
        self.ftd_at: datetime | None = None

    # deposits

    def deposit(
        self, method_key: str, amount: Decimal, at: datetime, status="completed", instrument=None
    ) -> dict:
        method = self.methods[method_key]
        rows, person = self.rows, self.person
        pk = rows.next_id(Deposit)
        reference = f"D{token(f'dep:{pk}', 16).upper()}"
        completed = status == Deposit.Status.COMPLETED
        row = rows.add(
            Deposit,
            {
                "id": pk,
                "reference": reference,
                "client_id": person.client_id,
                "method_id": method.pk,
                "psp": method.psp,
                "amount": amount,
                "currency": method.currency,
                "status": status,
                "provider_reference": provider_reference(method.psp, reference),
                "redirect_url": "",
                "failure_reason": {
                    "failed": "Your card was declined.",
                    "expired": "The payment page expired before the client paid.",
                }.get(status, ""),
                "is_ftd": completed and self.ftd_at is None,
                "refunded_amount": D(0),
                "charged_back_amount": D(0),
                "ledger_transaction_id": None,
                "instrument_id": None,
                "wallet_amount": None,
                "wallet_currency": "",
                "created_at": at - timedelta(minutes=3),
                "completed_at": at if status != "created" else None,
            },
        )
        if not completed:
            return row
        if self.ftd_at is None:
            self.ftd_at = at
        if instrument is None:
            instrument = self.instruments.get(method.psp)
            if instrument is None:
                instrument = instrument_row(rows, person, method.psp, at)
                self.instruments[method.psp] = instrument
        instrument["last_seen_at"] = max(instrument["last_seen_at"], at)
        row["instrument_id"] = instrument["id"]
        row["ledger_transaction_id"] = rows.post(
            kind=LedgerTransaction.Kind.DEPOSIT,
            key=f"deposit:{pk}",
            legs=[
                (rows.wallet(person.client_id, method.currency), amount, method.currency, "", None),
                (rows.clearing(method.psp, method.currency), -amount, method.currency, "", None),
            ],
            client_id=person.client_id,
            psp=method.psp,
            reference=row["provider_reference"],
            description=f"Deposit {reference}",
            at=at,
        )
        self.wallets.balance[method.currency] += amount
        self.deposits.append(row)
        return row

    # transfers between the wallet and the trading account (USD)

    def transfer(self, amount: Decimal, at: datetime, *, to_trading: bool) -> None:
        rows, person = self.rows, self.person
        if person.account_id is None or amount <= 0:
            return
        if to_trading and self.wallets.balance["USD"] < amount:
            return
        pk = rows.next_id(Transfer)
        comment = f"BO-TR-{token(f'tr:{pk}', 16).upper()}"
        sign = D(-1) if to_trading else D(1)
        txn = rows.post(
            kind=LedgerTransaction.Kind.TRANSFER,
            key=f"transfer:{pk}",
            legs=[
                (rows.wallet(person.client_id, "USD"), sign * amount, "USD", "", None),
                (
                    rows.system_account(LedgerAccount.Kind.PLATFORM_OMNIBUS, "USD"),
                    -sign * amount,
                    "USD",
                    "",
                    None,
                ),
            ],
            client_id=person.client_id,
            psp="",
            reference=str(70_000_000 + pk),
            description=f"Transfer {comment}",
            at=at,
        )
        hold = None
        if to_trading:
            hold = self._hold(comment, amount, "USD", at, "settled")
        rows.add(
            Transfer,
            {
                "id": pk,
                "client_id": person.client_id,
                "trading_account_id": person.account_id,
                "direction": (
                    Transfer.Direction.TO_TRADING if to_trading else Transfer.Direction.FROM_TRADING
                ),
                "amount": amount,
                "currency": "USD",
                "status": Transfer.Status.COMPLETED,
                "hold_id": hold,
                "comment": comment,
                "platform_ticket": 70_000_000 + pk,
                "attempts": 1,
                "started_at": at - timedelta(seconds=2),
                "failure_reason": "",
                "ledger_transaction_id": txn,
                "actor_label": person.email,
                "requested_at": at - timedelta(seconds=3),
                "completed_at": at,
            },
        )
        self.wallets.balance["USD"] += sign * amount

    def _hold(self, reference: str, amount: Decimal, currency: str, at, status: str) -> int:
        pk = self.rows.next_id(Hold)
        self.rows.add(
            Hold,
            {
                "id": pk,
                "account_id": self.rows.wallet(self.person.client_id, currency),
                "amount": amount,
                "currency": currency,
                "reference": reference,
                "status": status,  # written active; settled and released afterwards
                "created_at": at,
                "closed_at": None if status == "active" else at + timedelta(hours=2),
            },
        )
        return pk

    def _money_out(self, kind, key, psp, currency, amount, reference, description, at) -> int:
        """A payout or refund the PSP made: the wallet's debit against the PSP's clearing
        account, as `finance.services.common.money_out_finish` posts it."""
        rows, client_id = self.rows, self.person.client_id
        return rows.post(
            kind=kind,
            key=key,
            legs=[
                (rows.wallet(client_id, currency), -amount, currency, "", None),
                (rows.clearing(psp, currency), amount, currency, "", None),
            ],
            client_id=client_id,
            psp=psp,
            reference=reference,
            description=description,
            at=at,
        )

    # withdrawals, back to the PSP that funded the wallet

    def withdrawal(self, currency: str, amount: Decimal, at: datetime, status: str) -> None:
        rows, person = self.rows, self.person
        funding = next((d for d in reversed(self.deposits) if d["currency"] == currency), None)
        if funding is None:
            return
        psp = funding["psp"]
        pk = rows.next_id(Withdrawal)
        reference = f"W{token(f'wd:{pk}', 16).upper()}"
        hold_status = {"paid": "settled", "requested": "active", "in_review": "active"}.get(
            status, "released"
        )
        hold = self._hold(f"withdrawal:{reference}", amount, currency, at, hold_status)
        decided = at + timedelta(hours=3)
        txn = None
        if status == "paid":
            txn = self._money_out(
                LedgerTransaction.Kind.WITHDRAWAL, f"withdrawal:{pk}", psp, currency, amount,
                provider_reference(psp, reference), f"Withdrawal {reference}",
                decided + timedelta(hours=1),
            )  # fmt: skip
        if hold_status != "released":
            self.wallets.balance[currency] -= amount
        rows.add(
            Withdrawal,
            {
                "id": pk,
                "reference": reference,
                "client_id": person.client_id,
                "amount": amount,
                "currency": currency,
                "psp": psp,
                "funding_deposit_id": funding["id"] if psp in ("stripe", "checkout") else None,
                "hold_id": hold,
                "status": status,
                "check_reasons": [],
                "decision_rule": "within the automatic approval limits" if status == "paid" else "",
                "decision_reason": {
                    "rejected": "The client asked for it to go to a card that did not fund the "
                    "account.",
                    "cancelled": "Cancelled by the client.",
                    "failed": "",
                }.get(status, ""),
                "first_approval_by_id": None,
                "decided_by_id": None,
                "decided_at": decided if status not in ("requested", "in_review") else None,
                "payout_started_at": decided if status in ("paid", "failed") else None,
                "payout_attempts": 1 if status in ("paid", "failed") else 0,
                "provider_reference": provider_reference(psp, reference) if txn else "",
                "failure_reason": "The PSP refused the payout." if status == "failed" else "",
                "ledger_transaction_id": txn,
                "requested_at": at,
                "completed_at": decided + timedelta(hours=1) if status == "paid" else None,
            },
        )

    def refund(self, deposit: dict, amount: Decimal, at: datetime, reason: str) -> None:
        rows = self.rows
        currency, psp = deposit["currency"], deposit["psp"]
        pk = rows.next_id(Refund)
        reference = f"R{token(f'rf:{pk}', 16).upper()}"
        hold = self._hold(f"refund:{reference}", amount, currency, at, "settled")
        txn = self._money_out(
            LedgerTransaction.Kind.REFUND, f"refund:{pk}", psp, currency, amount,
            "re_" + token(reference, 24), f"Refund {reference} of deposit {deposit['reference']}",
            at + timedelta(minutes=5),
        )  # fmt: skip
        deposit["refunded_amount"] += amount
        self.wallets.balance[currency] -= amount
        rows.add(
            Refund,
            {
                "id": pk,
                "reference": reference,
                "deposit_id": deposit["id"],
                "amount": amount,
                "currency": currency,
                "reason": reason,
                "status": Refund.Status.SUCCEEDED,
                "hold_id": hold,
                "requested_by_id": None,
                "provider_reference": "re_" + token(reference, 24),
                "attempts": 1,
                "attempted_at": at,
                "failure_reason": "",
                "ledger_transaction_id": txn,
                "created_at": at,
                "completed_at": at + timedelta(minutes=5),
            },
        )

    def chargeback(self, deposit: dict, at: datetime, status: str, reason: str) -> None:
        rows, person = self.rows, self.person
        currency, psp = deposit["currency"], deposit["psp"]
        amount = deposit["amount"] - deposit["refunded_amount"] - deposit["charged_back_amount"]
        if amount <= 0:
            return
        pk = rows.next_id(Chargeback)
        dispute = "dp_1" + token(f"cb:{pk}", 23)
        covered = max(D(0), min(amount, self.wallets.balance[currency]))
        shortfall = amount - covered
        legs = [(rows.clearing(psp, currency), amount, currency, "", None)]
        if covered:
            legs.append((rows.wallet(person.client_id, currency), -covered, currency, "", None))
        if shortfall:
            losses = rows.system_account(LedgerAccount.Kind.CHARGEBACK_LOSSES, currency)
            legs.append((losses, -shortfall, currency, "", person.client_id))
        txn = rows.post(
            kind=LedgerTransaction.Kind.CHARGEBACK,
            key=f"chargeback:{pk}",
            legs=legs,
            client_id=person.client_id,
            psp=psp,
            reference=dispute,
            description=f"Chargeback {dispute} on deposit {deposit['reference']}",
            at=at,
        )
        deposit["charged_back_amount"] += amount
        self.wallets.balance[currency] -= covered
        rows.add(
            Chargeback,
            {
                "id": pk,
                "deposit_id": deposit["id"],
                "provider_reference": dispute,
                "amount": amount,
                "currency": currency,
                "reason": reason,
                "status": status,
                "counted_amount": amount,
                "wallet_debited_amount": covered,
                "loss_amount": shortfall,
                "recovered_amount": D(0),
                "opened_by_label": f"psp:{psp}",
                "opened_at": at,
                "closed_at": at + timedelta(days=40) if status != "open" else None,
                "outcome_reason": "The issuer upheld the cardholder's claim."
                if status == "lost"
                else "",
                "ledger_transaction_id": txn,
            },
        )
