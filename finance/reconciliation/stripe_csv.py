"""Stripe's itemized reports of balance transactions, as CSV: the payout reconciliation
report (payout_reconciliation.itemized.5) and the balance change from activity report
(balance_change_from_activity.itemized.3), whichever columns they were run with.

One balance transaction per row, comma-separated, read by column name (the report's column
order and its optional columns vary with the options chosen when it was run). Required:
reporting_category, gross, currency, created_utc (or created, in exports that lack
created_utc) and source_id or balance_transaction_id; used when present: payment_intent_id,
charge_id, description. The balance report in its default columns (balance_transaction_id,
created_utc, available_on_utc, currency, gross, fee, net, reporting_category, description) has
no source_id nor payment ids: its rows carry Stripe's txn_ id as reference and are matched to
the ledger by description (see matching).

- `amount` is the gross, as Stripe writes it: a plain decimal in major units, signed from the
  merchant's side (no thousands separators, no accounting notation);
- `booked_on` is the date part of created_utc as written (UTC): "2024-01-31 23:59:59", also
  with a T, fractional seconds or an offset, or the date alone;
- `category` is reporting_category, which must not be empty; the engine skips the categories it
  does not reconcile (payout, fee, ...);
- `reference`: for a charge, payment_intent_id, else charge_id, else source_id; for every other
  category (refund, refund_failure, dispute, dispute_reversal, payout, fee, transfer, ...) the
  source_id (re_..., dp_..., po_...), with `payment_reference` = payment_intent_id (else
  charge_id) when the row has one; without source_id, the balance_transaction_id.
- `fee`: the fee column, when the report has it (what Stripe kept of the gross); the run
  books the fees of each day to the fee account (see `fees`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from .base import Source, StatementRow, row_error
from .csvfile import CsvFile, is_blank
from .values import ODD_EXPONENTS, BadValue, check_places, parse_amount, parse_currency, parse_date

_STRIPE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[ T](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?\Z",
    re.ASCII,
)
_STRIPE_CHARGE = frozenset({"charge"})
_NO_FEE = frozenset({"", "0", "0.00", "0.0", "0.000"})


def read_stripe_csv(source: Source) -> Iterator[StatementRow]:
    f = CsvFile(source, delimiter=",")
    lower = {h.lower() for h in f.header}
    created = "created_utc" if "created_utc" in lower or "created" not in lower else "created"
    # the payout report's source_id, else (the balance report's default columns) Stripe's txn_
    source = (
        "balance_transaction_id"
        if "source_id" not in lower and ("balance_transaction_id" in lower)
        else "source_id"
    )
    cols = f.columns(
        {
            "category": "reporting_category",
            "gross": "gross",
            "currency": "currency",
            "source_id": source,
            "created": created,
        },
        what="the Stripe report",
    )
    optional = f.columns(
        {
            name: name if name in lower else None
            for name in ("payment_intent_id", "charge_id", "description", "fee")
        },
        what="the Stripe report",
    )
    yield from _stripe_rows(f, cols, optional)


def _stripe_rows(f: CsvFile, cols, optional) -> Iterator[StatementRow]:
    i_cat, i_gross, i_cur = cols["category"], cols["gross"], cols["currency"]
    i_src, i_created = cols["source_id"], cols["created"]
    i_pi, i_ch, i_desc, i_fee = (
        optional["payment_intent_id"],
        optional["charge_id"],
        optional["description"],
        optional["fee"],
    )
    need = 1 + max(i for i in [*cols.values(), *optional.values()] if i is not None)
    upper_cache: dict[str, str] = {}
    date_cache: dict[str, date] = {}
    for row in f.rows():
        if len(row) < need:
            if is_blank(row):
                continue
            raise row_error(f"expected {need} columns, found {len(row)}", f.line_no())
        raw = row[i_gross]
        try:
            amount = parse_amount(raw, False, False)
        except BadValue as exc:
            if is_blank(row):
                continue
            raise row_error(f"gross {raw.strip()!r} {exc}", f.line_no()) from None
        currency = upper_cache.get(row[i_cur])
        if currency is None:
            currency = upper_cache[row[i_cur]] = parse_currency(row[i_cur], f.line_no())
        if amount.as_tuple().exponent < -2 or currency in ODD_EXPONENTS:
            check_places(amount, currency, raw, f.line_no())
        created = row[i_created]
        day = created[:10]
        booked_on = date_cache.get(day)
        if booked_on is None or not _STRIPE_TIME.match(created):
            booked_on = _stripe_date(created, f.line_no())
            if len(date_cache) > 10000:
                date_cache.clear()
            date_cache[day] = booked_on
        category = row[i_cat].strip()
        source_id = row[i_src].strip()
        pi = row[i_pi].strip() if i_pi is not None else ""
        charge_id = row[i_ch].strip() if i_ch is not None else ""
        if category in _STRIPE_CHARGE:
            reference, payment_reference = pi or charge_id or source_id, ""
        else:
            reference, payment_reference = source_id, pi or charge_id
        if not category:
            raise row_error("reporting_category is empty", f.line_no())
        fee = None
        if i_fee is not None and row[i_fee].strip() not in _NO_FEE:
            raw_fee = row[i_fee]
            try:
                fee = parse_amount(raw_fee, False, False)
            except BadValue as exc:
                raise row_error(f"fee {raw_fee.strip()!r} {exc}", f.line_no()) from None
            check_places(fee, currency, raw_fee, f.line_no())
            fee = fee or None
        yield StatementRow(
            f.line_no(),
            reference,
            amount,
            currency,
            booked_on,
            row[i_desc].strip() if i_desc is not None else "",
            category,
            payment_reference,
            fee=fee,
        )


def _stripe_date(text: str, line_no: int) -> date:
    m = _STRIPE_TIME.match(text.strip())
    if not m:
        raise row_error(f"created {text.strip()!r} is not a time like 2024-01-31 23:59:59", line_no)
    return parse_date(m.group(1), "%Y-%m-%d", line_no, "created")
