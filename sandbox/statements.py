"""Reconciliation files as payment providers and banks produce them, for the demo and the tests.

Writers for Stripe's itemized payout reconciliation report (CSV), ISO 20022 camt.053.001.02,
SWIFT MT940 and a plain CSV. A row is any object with the attributes of the product's
`StatementRow` (reference, amount, currency, booked_on, description, category,
payment_reference); this module never imports product code.

Each `write_*` returns the whole file as bytes; each `iter_*` yields it in chunks of bytes, in
bounded memory, for files of millions of rows.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import chain, groupby
from xml.sax.saxutils import escape

from unidecode import unidecode

FLUSH_ROWS = 5000

_ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX"]
    + ["VND", "VUV", "XAF", "XOF", "XPF"]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def _places(currency: str) -> int:
    currency = currency.upper()
    return 0 if currency in _ZERO_DECIMAL else 3 if currency in _THREE_DECIMAL else 2


def _plain(amount: Decimal) -> str:
    """An amount as plain digits ("-1234.5"), never in exponent notation."""
    return f"{amount:f}"


def _padded(amount: Decimal, currency: str | int) -> str:
    """The amount with the currency's decimals ("100.00", JPY "1000"), never losing digits.
    `currency` may be given as its number of decimals."""
    text = f"{amount:f}"
    places = currency if type(currency) is int else _places(currency)
    decimals = len(text) - text.index(".") - 1 if "." in text else 0
    if decimals < places:
        text += ("" if "." in text else ".") + "0" * (places - decimals)
    return text


def _chunked(lines: Iterable[str], encoding: str = "utf-8") -> Iterator[bytes]:
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= FLUSH_ROWS:
            yield "".join(buffer).encode(encoding)
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode(encoding)


def _short_id(*parts) -> str:
    """A deterministic Stripe-looking id body (24 letters and digits)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=18).digest()
    return base64.b64encode(digest, altchars=b"Az").decode()


# --- generic CSV -------------------------------------------------------------------------------

GENERIC_COLUMNS = ("date", "reference", "amount", "currency", "description", "category")
_ATTRIBUTES = {"date": "booked_on"}


def iter_generic_csv(
    rows: Iterable,
    *,
    delimiter: str = ",",
    columns: Iterable[str] = GENERIC_COLUMNS,
    decimal_comma: bool = False,
    date_format: str = "%Y-%m-%d",
    bom: bool = False,
) -> Iterator[bytes]:
    """A CSV with a header of `columns` (row attribute names; "date" is booked_on)."""
    columns = tuple(columns)
    attributes = [_ATTRIBUTES.get(c, c) for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    if bom:
        yield b"\xef\xbb\xbf"
    iso = date_format == "%Y-%m-%d"
    for n, row in enumerate(rows, 1):
        values = []
        for attribute in attributes:
            value = getattr(row, attribute)
            if isinstance(value, Decimal):
                value = _plain(value)
                if decimal_comma:
                    value = value.replace(".", ",")
            elif isinstance(value, date):
                value = value.isoformat() if iso else value.strftime(date_format)
            values.append(value)
        writer.writerow(values)
        if n % FLUSH_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_generic_csv(
    rows: Iterable,
    *,
    delimiter: str = ",",
    columns: Iterable[str] = GENERIC_COLUMNS,
    decimal_comma: bool = False,
    date_format: str = "%Y-%m-%d",
    bom: bool = False,
) -> bytes:
    return b"".join(
        iter_generic_csv(
            rows,
            delimiter=delimiter,
            columns=columns,
            decimal_comma=decimal_comma,
            date_format=date_format,
            bom=bom,
        )
    )


# --- Stripe itemized payout reconciliation (payout_reconciliation.itemized.5) ------------------

STRIPE_COLUMNS = (
    "automatic_payout_id",
    "automatic_payout_effective_at_utc",
    "automatic_payout_effective_at",
    "balance_transaction_id",
    "created_utc",
    "created",
    "available_on_utc",
    "available_on",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "description",
    "customer_facing_amount",
    "customer_facing_currency",
    "regulatory_tag",
    "customer_id",
    "customer_email",
    "customer_name",
    "customer_description",
    "invoice_id",
    "subscription_id",
    "payment_intent_id",
    "charge_id",
    "payment_method_type",
    "card_brand",
    "card_funding",
    "card_country",
    "statement_descriptor",
    "dispute_reason",
    "connected_account_id",
    "payment_metadata[client_id]",
)
_CARD_BRANDS = ("visa", "mastercard", "visa", "amex", "mastercard")
_DISPUTE_REASONS = ("fraudulent", "product_not_received", "duplicate", "credit_not_processed")


def _stripe_fee(category: str, gross: Decimal, currency: str) -> Decimal:
    places = _places(currency)
    quantum = Decimal(1).scaleb(-places)
    if category == "charge":
        fixed = Decimal("0.30") if places else Decimal(30)
        return (abs(gross) * Decimal("0.029") + fixed).quantize(quantum, ROUND_HALF_UP)
    if category == "dispute":
        return (Decimal(15) if places else Decimal(2000)).quantize(quantum)
    return Decimal(0).quantize(quantum)


def _ids_for(category: str, reference: str, payment_reference: str, n: int):
    """(source_id, payment_intent_id, charge_id) as Stripe fills them for a balance txn."""
    if category == "charge":
        if reference.startswith(("ch_", "py_")):
            return reference, "", reference
        body = reference[3:] if reference.startswith("pi_") else _short_id("ch", reference, n)
        return f"ch_{body}", reference, f"ch_{body}"
    if payment_reference.startswith(("ch_", "py_")):
        return reference, "", payment_reference
    if payment_reference.startswith("pi_"):
        return reference, payment_reference, f"ch_{payment_reference[3:]}"
    return reference, payment_reference, ""


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_field(text: str) -> str:
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def iter_stripe_itemized_csv(rows: Iterable, *, payout_id: str | None = None) -> Iterator[bytes]:
    """Stripe's itemized payout reconciliation report: one balance transaction per row.

    row.category is the reporting_category (charge, refund, dispute, dispute_reversal, fee,
    ...); row.amount is the gross. For a charge the reference is the PaymentIntent (pi_...),
    for refunds and disputes the refund / dispute id, with payment_reference its PaymentIntent.
    """
    rows = iter(rows)
    first = next(rows, None)
    header = ",".join(STRIPE_COLUMNS) + "\n"
    if first is None:
        yield header.encode()
        return
    payout_id = payout_id or f"po_{_short_id('po', first.reference)}"
    payout_on = first.booked_on + timedelta(days=2)
    payout_at = f"{payout_on.isoformat()} 00:00:00"
    txn_prefix = _short_id("txn", first.reference)[:12]
    customers: dict[int, str] = {}
    days: dict[date, tuple[str, str]] = {}

    def lines() -> Iterator[str]:
        yield header
        for n, row in enumerate(chain([first], rows), 1):
            category = row.category or ("charge" if row.amount >= 0 else "refund")
            upper = row.currency.upper()
            currency = upper.lower()
            gross = row.amount
            fee = _stripe_fee(category, gross, upper)
            source_id, pi, charge_id = _ids_for(
                category, row.reference, getattr(row, "payment_reference", "") or "", n
            )
            day = days.get(row.booked_on)
            if day is None:
                available = f"{(row.booked_on + timedelta(days=2)).isoformat()} 00:00:00"
                day = days[row.booked_on] = (row.booked_on.isoformat(), available)
            seconds = (n * 7919) % 86400
            created = f"{day[0]} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            places = _places(upper)
            gross_text = _padded(gross, places)
            head = (
                f"{payout_id},{payout_at},{payout_at},txn_{txn_prefix}{n:012x},{created},"
                f"{created},{day[1]},{day[1]},{currency},{gross_text},{_padded(fee, places)},"
                f"{_padded(gross - fee, places)},{_csv_field(category)},{_csv_field(source_id)},"
                f"{_csv_field(row.description)},"
            )
            if category in ("charge", "refund", "dispute", "dispute_reversal"):
                number = n % 977
                customer = customers.get(number)
                if customer is None:
                    customer = customers[number] = (
                        f"cus_{_short_id('cus', number)[:14]},trader{number}@example.com,"
                        f"Trader {number}"
                    )
                reason = _DISPUTE_REASONS[n % 4] if category == "dispute" else ""
                yield (
                    f"{head}{gross_text},{currency},,{customer},,,,{_csv_field(pi)},"
                    f"{_csv_field(charge_id)},card,{_CARD_BRANDS[n % 5]},"
                    f"{'credit' if n % 3 else 'debit'},{('GB', 'DE', 'CY', 'AE')[n % 4]},"
                    f"BROKER*DEPOSIT,{reason},,{10000 + number}\n"
                )
            else:
                yield f"{head},,,,,,,,,{_csv_field(pi)},{_csv_field(charge_id)},,,,,,,,\n"

    yield from _chunked(lines())


def write_stripe_itemized_csv(rows: Iterable, *, payout_id: str | None = None) -> bytes:
    return b"".join(iter_stripe_itemized_csv(rows, payout_id=payout_id))


# --- camt.053.001.02 ---------------------------------------------------------------------------

CAMT053_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_ENTITIES = {'"': "&quot;", "\r": "&#13;"}


def _x(text: str) -> str:
    return escape(_XML_INVALID.sub("", str(text)), _XML_ENTITIES)


def _balance_xml(code: str, amount: Decimal, currency: str, on: date) -> str:
    sign = "DBIT" if amount < 0 else "CRDT"
    return (
        f"      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{_padded(abs(amount), currency)}</Amt>'
        f"<CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>{on.isoformat()}</Dt></Dt></Bal>\n"
    )


def iter_camt053(
    rows: Iterable,
    *,
    account_iban: str,
    currency: str,
    opening_balance: Decimal,
    statement_id: str = "STMT-1",
    created_at: datetime | None = None,
) -> Iterator[bytes]:
    """A bank-to-customer statement (camt.053.001.02) with one booked <Ntry> per row.

    The balances come before the entries in camt.053, so entries are spooled to a temporary
    file (in memory up to 32 MB) while the closing balance is summed.
    """
    created_at = created_at or datetime.now(UTC).replace(microsecond=0)
    created = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    currency = currency.upper()
    total = Decimal(0)
    count = 0
    first_day = last_day = None
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        lines: list[str] = []
        for row in rows:
            if row.currency.upper() != currency:
                raise ValueError(f"row {row.reference!r} is in {row.currency}, not {currency}")
            count += 1
            total += row.amount
            day = row.booked_on.isoformat()
            first_day = min(first_day or row.booked_on, row.booked_on)
            last_day = max(last_day or row.booked_on, row.booked_on)
            credit = row.amount >= 0
            category = getattr(row, "category", "")
            if category == "fee":
                code = "<Domn><Cd>ACMT</Cd><Fmly><Cd>MDOP</Cd><SubFmlyCd>CHRG</SubFmlyCd></Fmly>"
            elif credit:
                code = "<Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            else:
                code = "<Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            description = _XML_INVALID.sub("", row.description or "")
            remittance = (
                f"<RmtInf><Ustrd>{_x(description[:140])}</Ustrd></RmtInf>" if description else ""
            )
            remittance = _related_parties(row, credit) + remittance
            extra = ""
            if len(description) > 140:  # Ustrd holds 140 characters: the whole text goes here
                extra = f"<AddtlNtryInf>{_x(description[:500])}</AddtlNtryInf>"
            lines.append(
                "      <Ntry>"
                f'<Amt Ccy="{currency}">{_plain(abs(row.amount))}</Amt>'
                f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>"
                f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
                f"<AcctSvcrRef>{_x(statement_id[:20])}-{count:09d}</AcctSvcrRef>"
                f"<BkTxCd>{code}</Domn></BkTxCd>"
                "<NtryDtls><TxDtls><Refs>"
                f"<EndToEndId>{_x(row.reference) or 'NOTPROVIDED'}</EndToEndId></Refs>"
                f"{remittance}</TxDtls></NtryDtls>{extra}</Ntry>\n"
            )
            if len(lines) >= FLUSH_ROWS:
                spool.write("".join(lines).encode())
                lines.clear()
        spool.write("".join(lines).encode())
        opening_day = first_day or created_at.date()
        closing_day = last_day or opening_day
        closing = opening_balance + total
        credits = "CRDT" if total >= 0 else "DBIT"
        yield (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{CAMT053_NS}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
            "  <BkToCstmrStmt>\n"
            f"    <GrpHdr><MsgId>{_x(statement_id)}-MSG</MsgId><CreDtTm>{created}</CreDtTm>"
            "<MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn></GrpHdr>\n"
            "    <Stmt>\n"
            f"      <Id>{_x(statement_id)}</Id><ElctrncSeqNb>1</ElctrncSeqNb>"
            f"<CreDtTm>{created}</CreDtTm>\n"
            f"      <FrToDt><FrDtTm>{opening_day.isoformat()}T00:00:00</FrDtTm>"
            f"<ToDtTm>{closing_day.isoformat()}T23:59:59</ToDtTm></FrToDt>\n"
            f"      <Acct><Id><IBAN>{_x(account_iban)}</IBAN></Id><Ccy>{currency}</Ccy>"
            "<Svcr><FinInstnId><BIC>SANDDEFFXXX</BIC></FinInstnId></Svcr></Acct>\n"
            + _balance_xml("OPBD", opening_balance, currency, opening_day)
            + _balance_xml("CLBD", closing, currency, closing_day)
            + f"      <TxsSummry><TtlNtries><NbOfNtries>{count}</NbOfNtries>"
            f"<TtlNetNtryAmt>{_plain(abs(total))}</TtlNetNtryAmt>"
            f"<CdtDbtInd>{credits}</CdtDbtInd></TtlNtries></TxsSummry>\n"
        ).encode()
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk
    yield b"    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n"


def _related_parties(row, credit: bool) -> str:
    """<RltdPties> naming the other side (the debtor of money in, the creditor of money out)."""
    name = _XML_INVALID.sub("", getattr(row, "counterparty_name", ""))[:140]
    iban = getattr(row, "counterparty_iban", "")
    if not name and not iban:
        return ""
    side = "Dbtr" if credit else "Cdtr"
    party = f"<{side}><Nm>{_x(name)}</Nm></{side}>" if name else ""
    account = f"<{side}Acct><Id><IBAN>{_x(iban)}</IBAN></Id></{side}Acct>" if iban else ""
    return f"<RltdPties>{party}{account}</RltdPties>"


def write_camt053(
    rows: Iterable,
    *,
    account_iban: str,
    currency: str,
    opening_balance: Decimal,
    statement_id: str = "STMT-1",
    created_at: datetime | None = None,
) -> bytes:
    return b"".join(
        iter_camt053(
            rows,
            account_iban=account_iban,
            currency=currency,
            opening_balance=opening_balance,
            statement_id=statement_id,
            created_at=created_at,
        )
    )


# --- MT940 -------------------------------------------------------------------------------------

_SWIFT_TEXT = re.compile(r"[^A-Za-z0-9/\-:().,'+ _&*%=!\"<>;@#{}]")
_CUSTOMER_REF = re.compile(r"[A-Za-z0-9\-.,+_]{1,16}\Z")
_PURPOSE_SUBFIELDS = [*(f"2{i}" for i in range(10)), "60", "61", "62", "63"]


def _swift(text: str) -> str:
    """Text in the characters banks send in MT940 (transliterated; no '?', no '{}')."""
    return _SWIFT_TEXT.sub(".", unidecode(text)).replace("{", "(").replace("}", ")")


def _swift_amount(amount: Decimal, currency: str | None = None) -> str:
    text = _padded(abs(amount), currency) if currency else _plain(abs(amount))
    return text.replace(".", ",") if "." in text else f"{text},"


def _wrap(text: str, width: int = 65) -> list[str]:
    """Field text in lines of at most `width`, never starting a line with ':' or '-' (which
    would read as a new field or the end of the message) nor ending one with a space."""
    lines = []
    while len(text) > width:
        cut = width
        while cut > 1 and (text[cut] in ":-" or text[cut - 1] == " "):
            cut -= 1
        lines.append(text[:cut])
        text = text[cut:]
    lines.append(text)
    return lines


def _field_86(row, n: int) -> list[str]:
    credit = row.amount >= 0
    if getattr(row, "category", "") == "fee":
        head = "805?00ENTGELT"
    elif credit:
        head = "166?00SEPA-GUTSCHRIFT"
    else:
        head = "177?00SEPA-UEBERWEISUNG"
    head += f"?10{9300 + n % 700}"
    reference = _swift(row.reference)
    purpose = f"EREF+{reference}" if reference else ""
    if row.description:
        purpose += f"SVWZ+{_swift(row.description)}"
    pieces = [purpose[i : i + 27] for i in range(0, len(purpose), 27)]
    iban = getattr(row, "counterparty_iban", "") or f"DE{(n * 7919) % 10**20:020d}"
    head += f"?30SANDDEFFXXX?31{_swift(iban)}"
    name = _swift(getattr(row, "counterparty_name", ""))[:54]
    if name:  # ?32 and ?33 hold 27 characters each
        head += f"?32{name[:27]}" + (f"?33{name[27:]}" if name[27:] else "")
    head += f"?34{997 if credit else 0:03d}"
    pieces = pieces[: len(_PURPOSE_SUBFIELDS)]
    subfields = zip(_PURPOSE_SUBFIELDS, pieces, strict=False)
    text = head + "".join(f"?{code}{piece}" for code, piece in subfields)
    return _wrap(text)[:6]  # :86: holds 6 lines of 65 characters; a longer text is cut


def iter_mt940(
    rows: Iterable,
    *,
    account: str,
    currency: str,
    opening_balance: Decimal,
    statement_no: str = "1",
    first_entry: int = 1,
) -> Iterator[bytes]:
    """One MT940 message as German banks export it: :61: lines with the end-to-end reference
    in the structured :86: (?20 EREF+..., SVWZ+ description); the bank's reference of each
    line (after //) counts from `first_entry`."""
    currency = currency.upper()
    rows = iter(rows)
    first = next(rows, None)
    opening_day = first.booked_on if first is not None else datetime.now(UTC).date()
    balance = opening_balance

    def lines() -> Iterator[str]:
        nonlocal balance
        mark = "D" if opening_balance < 0 else "C"
        yield f":20:STMT{statement_no}"[:20] + "\r\n"
        yield f":25:{account}\r\n"
        yield f":28C:{statement_no}/1\r\n"
        opening = _swift_amount(opening_balance, currency)
        yield f":60F:{mark}{opening_day:%y%m%d}{currency}{opening}\r\n"
        last_day = opening_day
        for n, row in enumerate(chain([first], rows) if first is not None else (), first_entry):
            if row.currency.upper() != currency:
                raise ValueError(f"row {row.reference!r} is in {row.currency}, not {currency}")
            balance += row.amount
            last_day = row.booked_on
            kind = "CHG" if getattr(row, "category", "") == "fee" else "TRF"
            ref = _swift(row.reference)
            customer_ref = ref if _CUSTOMER_REF.match(ref) and "//" not in ref else "NONREF"
            yield (
                f":61:{row.booked_on:%y%m%d%m%d}{'C' if row.amount >= 0 else 'D'}"
                f"{_swift_amount(row.amount, currency)}N{kind}{customer_ref}//{n:010d}\r\n"
            )
            field = _field_86(row, n)
            yield ":86:" + "\r\n".join(field) + "\r\n"
        mark = "D" if balance < 0 else "C"
        yield f":62F:{mark}{last_day:%y%m%d}{currency}{_swift_amount(balance, currency)}\r\n-\r\n"

    yield from _chunked(lines(), "latin-1")


def iter_mt940_days(
    rows: Iterable, *, account: str, currency: str, opening_balance: Decimal
) -> Iterator[bytes]:
    """A month as banks send it: one MT940 message per booking day (the rows sorted by day),
    each opening with the previous one's closing balance."""
    balance = opening_balance
    entry = 1
    for n, (_day, group) in enumerate(
        groupby(sorted(rows, key=lambda r: r.booked_on), key=lambda r: r.booked_on), 1
    ):
        day_rows = list(group)
        yield from iter_mt940(
            day_rows,
            account=account,
            currency=currency,
            opening_balance=balance,
            statement_no=str(n),
            first_entry=entry,
        )
        balance += sum((r.amount for r in day_rows), Decimal(0))
        entry += len(day_rows)


def write_mt940(
    rows: Iterable,
    *,
    account: str,
    currency: str,
    opening_balance: Decimal,
    statement_no: str = "1",
) -> bytes:
    return b"".join(
        iter_mt940(
            rows,
            account=account,
            currency=currency,
            opening_balance=opening_balance,
            statement_no=statement_no,
        )
    )
