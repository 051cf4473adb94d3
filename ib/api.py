"""/api/v1/partners/: a partner's own figures, read by its own systems with one of its tokens.

Authenticated by `Authorization: Bearer <token>` (a token the partner made at /partners/api/;
an integration's `X-API-Key` or a signed-in session reaches nothing here), read-only, every
answer scoped to the token's partner, each token rate-limited like an API key
(`API_RATE_LIMIT`). The answers are what the dashboard shows, read by the same selectors:
clients masked, never balances or documents, a withheld line's status without the reasons.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.security import HttpBearer
from pydantic import Field

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.ratelimit import rate_check

from .models import CommissionLine, Partner
from .onboarding import agreement_due
from .selectors import (
    masked_client,
    partner_clients,
    partner_clients_rows,
    partner_earnings_between,
    partner_lines,
)
from .tokens import TokenRefused, partner_token_authenticate

MAX_DAYS = 366  # the longest range one call may ask for
DEFAULT_DAYS = 30
PAGE_SIZE_MAX = 200


class PartnerTokenAuth(HttpBearer):
    """A partner's token, sent as `Authorization: Bearer <token>`."""

    def __call__(self, request):
        scheme, _, raw = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not raw.strip():
            raise TokenRefused(
                "Send one of your partner tokens (made at /partners/api/) in the "
                "`Authorization: Bearer <token>` header.",
                code="missing_token",
            )
        return self.authenticate(request, raw.strip())

    def authenticate(self, request, token):
        found = partner_token_authenticate(token)
        if found is None:
            raise TokenRefused("This token is not valid: it is unknown or has been revoked.")
        rate_check(f"partner-token:{found.pk}")  # 429 with Retry-After past API_RATE_LIMIT
        partner = found.partner
        if partner.status in (Partner.Status.PENDING, Partner.Status.REJECTED):
            raise NotAllowed(
                f"This partner account is {partner.get_status_display().lower()}: "
                "the API answers once it is approved.",
                code="partner_not_active",
            )
        due = agreement_due(partner)
        if due is not None:  # the dashboard's own gate: a new agreement version comes first
            raise NotAllowed(
                f"Accept version {due.version} of the partner agreement in the dashboard "
                "(/partners/agreement/) first.",
                code="agreement_due",
            )
        return found


router = Router(tags=["partners"], auth=PartnerTokenAuth())

ERRORS = {401: dict, 403: dict, 422: dict, 429: dict}


class Amount(Schema):
    currency: str = Field(description="ISO 4217")
    amount: Decimal = Field(description="Exact (rounded to cents only when a period settles)")


class Me(Schema):
    partner: str
    referral_code: str
    token: str = Field(description="The name of the token used")


class EarnedRow(Amount):
    lines: int = Field(description="How many commission lines make the amount")


class EarnedDay(EarnedRow):
    day: date


class EarnedSymbol(EarnedRow):
    symbol: str = Field(description="Empty for lines not tied to a symbol (adjustments)")


class EarnedTier(EarnedRow):
    tier: int = Field(description="0: your own clients' trades; 1: your sub-IBs' clients' ...")


class Earnings(Schema):
    date_from: date
    date_to: date
    totals: list[EarnedRow]
    by_day: list[EarnedDay]
    by_symbol: list[EarnedSymbol]
    by_tier: list[EarnedTier]


class Line(Schema):
    id: int
    deal_time: datetime = Field(description="When the deal closed (UTC)")
    client: str = Field(description="Masked: initials and the email's first letter")
    symbol: str
    tier: int = Field(
        description="0: your client; 1 and up: a sub-IB's client, that many levels down"
    )
    kind: Literal["commission", "reversal", "adjustment"]
    formula: str = Field(description="Why this amount, in words and numbers")
    rate: Decimal = Field(description="Per lot in the currency, or a percentage (see formula)")
    lots: Decimal
    amount: Decimal
    currency: str
    status: Literal["pending", "withheld", "disputed", "settled", "cancelled"]
    status_label: str
    plan: str = Field(description="The plan and version that priced it (empty if none)")


class LinesPage(Schema):
    page: int
    page_size: int
    next_page: int | None = Field(description="The next page's number; null on the last page")
    lines: list[Line]


class ReferredClient(Schema):
    id: int
    name: str = Field(description="Masked")
    email: str = Field(description="Masked")
    country: str = Field(description="ISO 3166-1 alpha-2 (empty if not given)")
    referred_at: datetime
    funded: bool = Field(description="Has made a first deposit")
    lots: Decimal = Field(description="Lots of its closed trades that earned you a commission")
    commission_generated: list[Amount]


class ClientsPage(Schema):
    count: int
    page: int
    page_size: int
    next_page: int | None
    clients: list[ReferredClient]


class Range(Schema):
    date_from: date | None = Field(None, description="First day (UTC), included")
    date_to: date | None = Field(None, description="Last day (UTC), included; default today")


class Paging(Schema):
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=PAGE_SIZE_MAX)


class LineFilters(Range, Paging):
    status: Literal["pending", "withheld", "disputed", "settled", "cancelled"] | None = None


def _days(query: Range) -> tuple[date, date]:
    """The range asked for, or the last 30 days; at most MAX_DAYS, never backwards."""
    date_to = query.date_to or timezone.now().date()
    date_from = query.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise InvalidInput(
            "date_from is after date_to.",
            code="validation_error",
            fields={"date_from": ["On or before date_to."]},
            status=422,
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise InvalidInput(
            f"Ask for at most {MAX_DAYS} days at a time.",
            code="validation_error",
            fields={"date_from": [f"At most {MAX_DAYS} days before date_to."]},
            status=422,
        )
    return date_from, date_to


def _slice(qs, paging: Paging) -> tuple[list, int | None]:
    """One page of `qs` and the next page's number (None on the last), without a count."""
    start = (paging.page - 1) * paging.page_size
    rows = list(qs[start : start + paging.page_size + 1])
    more = len(rows) > paging.page_size
    return rows[: paging.page_size], paging.page + 1 if more else None


@router.get("/me", response={200: Me, **ERRORS}, summary="The partner a token stands for")
def me(request):
    """Which partner and token the call was made with: a cheap way to test a token."""
    partner = request.auth.partner
    return {
        "partner": str(partner),
        "referral_code": partner.referral_code,
        "token": request.auth.name,
    }


@router.get(
    "/earnings", response={200: Earnings, **ERRORS}, summary="Earnings by day, symbol and tier"
)
def earnings(request, query: Query[Range]):
    """What you earned on deals closed in a range of days (UTC, both ends included; the last
    30 days by default, at most 366): in all, per day, per symbol and per level, each per
    currency. Only days with lines are listed."""
    date_from, date_to = _days(query)
    figures = partner_earnings_between(
        partner=request.auth.partner, date_from=date_from, date_to=date_to
    )
    return {"date_from": date_from, "date_to": date_to, **figures}


@router.get(
    "/lines", response={200: LinesPage, **ERRORS}, summary="Commission lines with their why"
)
def lines(request, query: Query[LineFilters]):
    """Your commission lines, newest deal first, each with why it is that amount (formula,
    rate, lots, plan). Filter by a range of days (UTC, both included; at most 366 when both
    are given) and by status. A withheld line says so; why it is held is for our review."""
    if query.date_from and query.date_to:
        _days(query)
    qs = partner_lines(
        partner=request.auth.partner,
        status=query.status or "",
        date_from=query.date_from,
        date_to=query.date_to,
    )
    rows, next_page = _slice(qs, query)
    statuses = dict(CommissionLine.Status.choices)
    return {
        "page": query.page,
        "page_size": query.page_size,
        "next_page": next_page,
        "lines": [
            {
                "id": line.pk,
                "deal_time": line.deal_time,
                "client": masked_client(line.client.user),
                "symbol": line.symbol,
                "tier": line.tier,
                "kind": line.kind,
                "formula": line.formula,
                "rate": line.rate,
                "lots": Decimal(line.volume) / 10000,
                "amount": line.amount,
                "currency": line.currency,
                "status": line.status,
                "status_label": statuses[line.status],
                "plan": f"{line.version.plan.name} v{line.version.number}" if line.version else "",
            }
            for line in rows
        ],
    }


@router.get("/clients", response={200: ClientsPage, **ERRORS}, summary="The clients you referred")
def clients(request, query: Query[Paging]):
    """The clients you referred, newest first, as your dashboard shows them (/partners/clients/,
    read by the same selectors): masked name and email, country, funded or not, the lots that
    earned you commission and the commission they generated. Never balances or documents.
    Your sub-IBs' clients are theirs."""
    partner = request.auth.partner
    qs = partner_clients(partner=partner)
    rows, next_page = _slice(qs, query)
    return {
        "count": qs.count(),
        "page": query.page,
        "page_size": query.page_size,
        "next_page": next_page,
        "clients": partner_clients_rows(partner=partner, referrals=rows),
    }
