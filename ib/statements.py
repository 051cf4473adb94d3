"""A partner's period statement as CSV and PDF: every line with its why, the exact sum, and
the amount settled (the sum rounded once, half up); for a wallet kept in another currency
(`ib.wallets`), each line's rate and converted amount and the amount credited in it."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from brokerage.csvexport import csv_writer

from .models import CommissionLine, PartnerStatement
from .selectors import mask_name

HEADER = [
    "deal closed (UTC)",
    "deal",
    "client",
    "symbol",
    "tier",
    "plan",
    "rule",
    "volume (lots)",
    "base",
    "rate",
    "formula",
    "amount",
    "currency",
]


def statement_lines(statement: PartnerStatement):
    return (
        CommissionLine.objects.filter(
            period=statement.period, partner=statement.partner, currency=statement.currency
        )
        .select_related(
            "client__user", "version__plan", "rule__account_type", "rule__region", "deal"
        )
        .order_by("deal_time", "id")
    )


STATEMENT_CHUNK_LINES = 500  # lines read per round trip while a statement CSV streams
WALLET_HEADER = ["wallet rate", "in wallet currency (exact)", "wallet currency"]


def _row(line: CommissionLine, wallet: bool = False) -> list:
    """The line's cells; with `wallet` (a statement converted into the partner's wallet
    currency), its rate and converted amount too."""
    row = _cells(line)
    if wallet:
        converted = line.amount * line.wallet_rate if line.wallet_rate is not None else None
        row += [
            f"{line.wallet_rate.normalize():f}" if converted is not None else "",
            f"{converted.normalize():f}" if converted is not None else "",
            line.wallet_currency,
        ]
    return row


def _pdf_row(line: CommissionLine) -> list:
    """The PDF's cells: the conversion into the wallet, if any, told in the why."""
    row = _cells(line)
    if line.wallet_rate is not None:
        converted = (line.amount * line.wallet_rate).normalize()
        row[10] += f" = {converted:f} {line.wallet_currency} at {line.wallet_rate.normalize():f}"
    return row


def _cells(line: CommissionLine) -> list:
    return [
        line.deal_time.strftime("%Y-%m-%d %H:%M:%S"),
        line.deal.ticket if line.deal_id else "",
        mask_name(line.client.user.get_full_name()),
        line.symbol,
        line.tier,
        f"{line.version.plan.name} v{line.version.number}" if line.version_id else "",
        line.rule.scope if line.rule_id else "",
        f"{line.volume / 10000:g}",
        f"{line.base_amount.normalize():f}",
        f"{line.rate.normalize():f}",
        line.formula,
        f"{line.amount.normalize():f}",
        line.currency,
    ]


def statement_csv(statement: PartnerStatement):
    """The statement's CSV, line by line: every commission line (read in chunks, so a
    statement of any size streams in constant memory), then the totals."""
    wallet = bool(statement.wallet_currency)
    writer = csv_writer()
    yield writer.writerow(HEADER + (WALLET_HEADER if wallet else []))
    for line in statement_lines(statement).iterator(chunk_size=STATEMENT_CHUNK_LINES):
        yield writer.writerow(_row(line, wallet))
    yield writer.writerow([])
    yield writer.writerow(["lines", statement.lines])
    yield writer.writerow(
        ["exact sum", f"{statement.exact_amount.normalize():f}", statement.currency]
    )
    yield writer.writerow(
        ["settled (rounded once, half up)", f"{statement.amount}", statement.currency]
    )
    if wallet:
        currency = statement.wallet_currency
        exact = f"{statement.wallet_exact_amount.normalize():f}"
        yield writer.writerow(
            ["in wallet currency, each line at its rate (exact)", exact, currency]
        )
        yield writer.writerow(
            ["credited (rounded once, half up)", f"{statement.wallet_amount}", currency]
        )


def statement_pdf(statement: PartnerStatement) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        "partners/statement_pdf.html",
        {
            "statement": statement,
            "rows": [_pdf_row(line) for line in statement_lines(statement)[:5000]],
            "truncated": statement.lines > 5000,
            "brokerage_name": settings.BROKERAGE_NAME or "Brokerage",
            "licence": settings.BROKERAGE_LICENCE,
            "address": settings.BROKERAGE_ADDRESS,
            "generated_at": timezone.now().strftime("%Y-%m-%d %H:%M UTC"),
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
