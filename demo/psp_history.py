"""The payment providers' memory of the demo's money, told to the PSP sandbox.

The demo's deposits, refunds, chargebacks and payouts are settled by the providers' events
(`demo.finance`), so the PSP sandbox that `make up` starts never saw them, and it keeps its
memory only while it runs. Without this, a statement from the sandbox would lack every demo
movement and a reconciliation of the demo's month would list them all as differences.

`psp_history()` is what each provider did, read from the PSP clearing postings of the ledger
(the provider's id, the signed amount, when): payments, refunds, client payouts and disputes.
`psp_history_send()` posts it to the sandbox (SANDBOX_PSP_URL) at `POST /_sandbox/<psp>/history`,
which adds the movements it does not know and remembers each payment, so that it can be refunded
or disputed later.
A sandbox that does not answer is reported and skipped: the demo data stays as it is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import defaultdict

from django.conf import settings

from finance.models import Chargeback, LedgerAccount, LedgerTransaction, Posting, Refund
from finance.psp import PSP_CODES

# The ledger transaction kinds a provider sees, as the sandbox's movement kinds.
MOVEMENT_KINDS = {
    LedgerTransaction.Kind.DEPOSIT: "payment",
    LedgerTransaction.Kind.REFUND: "refund",
    LedgerTransaction.Kind.WITHDRAWAL: "payout",
    LedgerTransaction.Kind.CHARGEBACK: "dispute",
    LedgerTransaction.Kind.CHARGEBACK_REVERSAL: "dispute_reversal",
}
BATCH = 2000


def psp_history() -> dict[str, list[dict]]:
    """Each provider's movements as the ledger's clearing postings record them (+ money in)."""
    postings = (
        Posting.objects.filter(
            account__kind=LedgerAccount.Kind.PSP_CLEARING,
            account__psp__in=PSP_CODES,  # not the bank's (wires are on the bank statement)
            transaction__kind__in=list(MOVEMENT_KINDS),
        )
        .exclude(external_reference="")
        .order_by("id")
        .values_list(
            "psp",
            "transaction__kind",
            "external_reference",
            "amount",
            "currency",
            "posted_at",
            "transaction__description",
        )
    )
    payment_of = _payment_references()
    history: dict[str, list[dict]] = defaultdict(list)
    for psp, kind, reference, amount, currency, posted_at, description in postings.iterator():
        history[psp].append(
            {
                "kind": MOVEMENT_KINDS[kind],
                "provider_reference": reference,
                "reference": "",
                "payment_reference": payment_of.get((psp, reference), ""),
                "amount": str(-amount),
                "currency": currency,
                "booked_at": posted_at.isoformat(),
                "description": description,
            }
        )
    return dict(history)


def _payment_references() -> dict[tuple[str, str], str]:
    """(psp, refund or dispute id) -> the provider's id of the payment it belongs to."""
    found = {}
    for model in (Refund, Chargeback):
        rows = model.objects.exclude(provider_reference="").values_list(
            "deposit__psp", "provider_reference", "deposit__provider_reference"
        )
        for psp, reference, payment in rows:
            found[(psp, reference)] = payment
    return found


def psp_history_send(url: str | None = None, *, out=print) -> dict[str, int]:
    """Post the history to the sandbox at `url` (SANDBOX_PSP_URL); how many it added per PSP.
    A sandbox that does not answer is reported through `out` and skipped."""
    url = (url if url is not None else settings.SANDBOX_PSP_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        return {}
    added: dict[str, int] = {}
    try:
        for psp, movements in psp_history().items():
            added[psp] = 0
            for start in range(0, len(movements), BATCH):
                request = urllib.request.Request(  # noqa: S310 (an http(s) URL, checked above)
                    f"{url}/_sandbox/{psp}/history",
                    data=json.dumps(movements[start : start + BATCH]).encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    added[psp] += json.load(response)["added"]
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        out(f"The PSP sandbox at {url} did not take the demo's payment history ({exc}).")
    return added
