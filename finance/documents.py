"""Finance documents rendered as PDF (WeasyPrint): the client's wallet statement.

The portal serves a client their own statement; the back-office calls the same function for any
client. Amounts are exact decimals formatted to the currency's minor units; times are UTC.
"""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format

from brokerage.money import exponent, format_money

from .selectors import statement_postings


def _number(amount: Decimal, currency: str) -> str:
    return f"{amount:,.{exponent(currency)}f}"


def statement_context(*, client, currency: str, start: date, end: date) -> dict:
    """What the statement shows: the header, each wallet posting with its running balance."""
    data = statement_postings(client=client, currency=currency, start=start, end=end)
    lines, credits, debits = [], Decimal(0), Decimal(0)
    for line in data["lines"]:
        posting, txn = line["posting"], line["posting"].transaction
        amount = posting.amount
        if amount > 0:
            credits += amount
        else:
            debits -= amount
        lines.append(
            {
                "at": date_format(posting.posted_at.astimezone(UTC), "DATETIME_FORMAT"),
                "description": txn.description or txn.get_kind_display(),
                "reference": posting.external_reference or txn.external_reference or f"T{txn.pk}",
                "debit": _number(-amount, currency) if amount < 0 else "",
                "credit": _number(amount, currency) if amount > 0 else "",
                "balance": _number(line["balance"], currency),
            }
        )
    user = client.user
    now = timezone.now().astimezone(UTC)
    return {
        "brokerage_name": settings.BROKERAGE_NAME or "Brokerage",
        "licence": settings.BROKERAGE_LICENCE,
        "address": settings.BROKERAGE_ADDRESS,
        # A period running past today closes today: a balance is never dated in the future.
        "closing_on": min(end, now.date()),
        "client_name": user.get_full_name() or user.email,
        "client_number": client.pk,
        "client_email": user.email,
        "currency": currency,
        "start": start,
        "end": end,
        "opening": format_money(data["opening"], currency),
        "closing": format_money(data["closing"], currency),
        "total_credits": _number(credits, currency),
        "total_debits": _number(debits, currency),
        "lines": lines,
        "generated_at": date_format(now, "DATETIME_FORMAT") + " UTC",
    }


def statement_pdf(*, client, currency: str, start: date, end: date) -> bytes:
    """The client's `currency` wallet statement for [start, end] (inclusive, UTC days), as PDF."""
    from weasyprint import HTML

    html = render_to_string(
        "finance/statement_pdf.html",
        statement_context(client=client, currency=currency, start=start, end=end),
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
