"""A client's standing: whether they may deposit, withdraw, transfer or open a trading account
now, and if not, why. One question for every path that moves a client's money or opens an
account for them:

    standing = client_standing(client, Purpose.WITHDRAW)

The answer carries stable reason codes, each with a severity:

- `block`: nothing goes past it while it stands, an officer's approval included; only the
  side that owns it lifts it (an open AML case: compliance closes it, `client_aml_case_set`).
- `review`: a person with authority may decide past it. Only withdrawals have such a person
  (finance's queue); deposits, transfers and account openings are the client's own actions
  and are refused on a reason of either severity (`Standing.refusal`).

Clients states the reasons it owns (a restriction, an open AML case) here, so they hold
whichever apps are installed. Other apps add theirs through the kernel hook
`brokerage.hooks.CLIENT_STANDING`, from their `contributions.py`, without clients importing
them (kyc: identity not verified or expired, the unverified deposit limit; finance: a
chargeback history; compliance next: sanctions matches and blocked jurisdictions). A
contribution is called as

    fn(client, purpose, *, amount_usd) -> iterable of Reason

`purpose` is a `Purpose`; `amount_usd` is the amount the question is about in USD where it has
one (a deposit: everything the client has deposited so far, pending deposits included, plus
this one), else None.

`Purpose.TRADE` asks whether the client's accounts may trade on the platform: a reason of
severity `block` disables their trading there (`clients.trading.reach`; MT5 offers no
close-only right per account), one of `review` does not (TRADE_STOPPING). An open AML case
blocks trading too; a restriction does not (it holds money and requests, see `_own_reasons`).

A contribution reads only the `client` it is given: callers that decide
under the client's row lock (`clients.locks.lock_client`) pass the locked row, so the answer
cannot change before they commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from brokerage.hooks import CLIENT_STANDING, contributions


class Purpose(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    TRANSFER = "transfer"
    OPEN_ACCOUNT = "open_account"
    TRADE = "trade"  # trading on the platform: a reason of block severity disables it


# Which severities stop trading on the platform (Purpose.TRADE): only `block`. A `review`
# reason waits for a person's decision on a request, and a trade is no request anyone reviews,
# so it leaves trading as it is (`clients.trading.reach`).
TRADE_STOPPING = frozenset({"block"})


class Severity(StrEnum):
    REVIEW = "review"
    BLOCK = "block"


# What a client is told while a case they must not be tipped off about is open.
UNDER_REVIEW = "Your account is under review. Please contact support."


@dataclass(frozen=True)
class Reason:
    code: str  # stable: stored with withdrawals, read by tests and reports
    severity: Severity
    message: str  # for staff
    client_message: str = UNDER_REVIEW  # for the client: never reveals a compliance matter

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": str(self.severity), "message": self.message}


@dataclass(frozen=True)
class Standing:
    purpose: Purpose
    reasons: tuple[Reason, ...] = ()

    @property
    def clear(self) -> bool:
        return not self.reasons

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def refusal(self, *, reviewable: bool = False) -> Reason | None:
        """The reason to refuse on, or None: the first block; where no person reviews the
        request (`reviewable` False), the first reason of either severity."""
        blocks = [r for r in self.reasons if r.severity == Severity.BLOCK]
        if blocks:
            return blocks[0]
        if not reviewable and self.reasons:
            return self.reasons[0]
        return None


def client_standing(client, purpose: Purpose | str, *, amount_usd: Decimal | None = None):
    """Every reason the client may not do `purpose` now: clients' own, then each app's."""
    purpose = Purpose(purpose)
    reasons = list(_own_reasons(client, purpose))
    for contribution in contributions(CLIENT_STANDING):
        reasons.extend(contribution(client, purpose, amount_usd=amount_usd))
    for reason in reasons:
        if not isinstance(reason, Reason) or reason.severity not in Severity:
            raise TypeError(f"A standing rule answered {reason!r}, not a Reason.")
    return Standing(purpose, tuple(reasons))


def _own_reasons(client, purpose: Purpose):
    if client.aml_case_open:
        yield Reason(
            "aml_case_open",
            Severity.BLOCK,
            "An AML case is open on the client; only compliance can close it.",
        )
    if client.restricted and purpose != Purpose.TRADE:
        # A restriction is staff's hold on the client's money and requests (review), not on
        # trading: compliance's blocks and jurisdiction rules stop trading.
        yield Reason(
            "restricted",
            Severity.REVIEW,
            f"The client is restricted: {client.restriction_reason or 'no reason'}.",
            client.restriction_reason or "The account is restricted.",
        )
