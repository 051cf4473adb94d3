"""ISO 20022 camt.053 (BankToCustomerStatement) XML, versions 001.02 to 001.13.

Parsed as a stream with expat: only the element paths below are looked at, and only the current
<Ntry> is held in memory, so a file of any size reads in bounded memory. `iter_camt053` yields
each booked entry as a `StatementRow` and, when its <Stmt> ends, the statement's
`StatementHeader`.

Contract and quirks:
- the root must be <Document> in a camt.053.001.02-13 namespace (wrong_format otherwise); any
  DOCTYPE or entity declaration is refused before anything is expanded (unsafe_xml); nesting
  beyond `MAX_XML_DEPTH` and element text beyond `MAX_XML_TEXT` are malformed_row; a file that
  ends mid-document is truncated;
- booked entries only: status BOOK or none, written <Sts>BOOK</Sts> or, in the later
  versions, <Sts><Cd>BOOK</Cd></Sts>; PDNG, INFO and any other status are skipped;
- <Amt Ccy="..."> is unsigned: CdtDbtInd CRDT is +, DBIT is -; the amount must fit its
  currency's decimal places;
- `booked_on`: BookgDt, else ValDt, each as <Dt> or <DtTm> (an ISO 8601 date-time's date);
  an entry with neither (the schema allows it) takes the statement's date (the closing
  balance's, else FrToDt/ToDtTm, else CreDtTm) and a `note` saying so; with none, refused;
- a batch entry (several <TxDtls>) whose transactions each state their amount (TxDtls/Amt,
  else AmtDtls/TxAmt/Amt) in the entry's currency is one row per transaction, with the entry's
  number as line_no; their amounts must add up to the entry's (balance_mismatch), signed as the
  entry (a batch of one direction: banks get a transaction's CdtDbtInd wrong) or else each by
  its own CdtDbtInd. Without amounts, the entry is one row carrying the first transaction;
- `reference`: the transaction's Refs/EndToEndId (unless NOTPROVIDED), else its Refs/
  AcctSvcrRef, else the entry's AcctSvcrRef, else RmtInf/Ustrd;
- the other side: of money in the debtor, of money out the creditor: RltdPties/Dbtr/Nm (Dbtr/
  Pty/Nm from 001.08) and DbtrAcct/Id/IBAN (upper case, no spaces); `remittance`: the Ustrd
  lines and Strd/CdtrRefInf/Ref joined; `end_to_end_id`: EndToEndId unless NOTPROVIDED;
- `description`: AddtlNtryInf, else the Ustrd lines joined; `category` is fee for the bank
  transaction sub-families CHRG, COMM, COME, COMI, FEES, SUBS, else transfer;
- the header: account IBAN (else Acct/Id/Othr/Id), opening balance OPBD (or PRCD), closing
  CLBD; when both are there, in one currency that every entry shares, opening + entries must
  equal closing, or, as banks write a closing *booked* balance (PostFinance), opening + the
  entries value-dated up to the closing balance's date (the later ones are in the forward
  available balance FWAV): else balance_mismatch, with both sums.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from xml.parsers import expat

from .base import (
    CHUNK_SIZE,
    Source,
    StatementError,
    StatementHeader,
    StatementRow,
    row_error,
    wrong_format,
)
from .values import (
    MAX_YEAR,
    MIN_YEAR,
    NOT_FINITE,
    ODD_EXPONENTS,
    ZERO,
    check_places,
    parse_currency,
    seen_currencies,
    strict_date,
)

MAX_XML_DEPTH = 64
MAX_XML_TEXT = 1 << 20  # characters in one XML element's text

_CAMT_NS_TEXT = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(0[2-9]|1[0-3])\Z")
_CAMT_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,15})?\Z", re.ASCII)

# Paths below the Document element, and what the parser does when an element there ends:
# ("e", key) keeps an entry's text, ("t", key) its first transaction's, ("u", _) adds a Ustrd
# line, ("b", key) a balance's text, ("s", key) the statement's; or when it starts (_START_*).
_STMT = "BkToCstmrStmt/Stmt"
_NTRY = f"{_STMT}/Ntry"
_BAL = f"{_STMT}/Bal"
_TXDTLS = f"{_NTRY}/NtryDtls/TxDtls"
_ON_END = {
    _NTRY: ("entry", ""),
    _BAL: ("bal", ""),
    _STMT: ("stmt", ""),
    **{
        f"{_NTRY}/{path}": ("e", key)
        for path, key in {
            "Amt": "amount",
            "CdtDbtInd": "sign",
            "Sts": "status",
            "Sts/Cd": "status",
            "BookgDt/Dt": "booked",
            "BookgDt/DtTm": "booked_at",
            "ValDt/Dt": "value",
            "ValDt/DtTm": "value_at",
            "AcctSvcrRef": "bank_ref",
            "AddtlNtryInf": "info",
            "BkTxCd/Domn/Fmly/SubFmlyCd": "subfamily",
        }.items()
    },
    **{
        f"{_TXDTLS}/{path}": ("t", key)
        for path, key in {
            "Refs/EndToEndId": "e2e",
            "Refs/AcctSvcrRef": "bank_ref",
            "Amt": "amount",
            "AmtDtls/TxAmt/Amt": "tx_amount",
            "CdtDbtInd": "sign",
            # the parties: <Nm> directly under Dbtr/Cdtr up to 001.07, under Pty from 001.08
            "RltdPties/Dbtr/Nm": "debtor",
            "RltdPties/Dbtr/Pty/Nm": "debtor",
            "RltdPties/Cdtr/Nm": "creditor",
            "RltdPties/Cdtr/Pty/Nm": "creditor",
            "RltdPties/DbtrAcct/Id/IBAN": "debtor_iban",
            "RltdPties/CdtrAcct/Id/IBAN": "creditor_iban",
        }.items()
    },
    f"{_TXDTLS}/RmtInf/Ustrd": ("u", "ustrd"),
    f"{_TXDTLS}/RmtInf/Strd/CdtrRefInf/Ref": ("u", "strd"),
    **{
        f"{_BAL}/{path}": ("b", key)
        for path, key in {
            "Tp/CdOrPrtry/Cd": "type",
            "Amt": "amount",
            "CdtDbtInd": "sign",
            "Dt/Dt": "date",
            "Dt/DtTm": "date_at",
        }.items()
    },
    **{
        f"{_STMT}/{path}": ("s", key)
        for path, key in {
            "Id": "id",
            "ElctrncSeqNb": "seq",
            "Acct/Id/IBAN": "iban",
            "Acct/Id/Othr/Id": "account",
            "Acct/Ccy": "currency",
            "CreDtTm": "created_at",
            "FrToDt/ToDtTm": "to_at",
        }.items()
    },
}
(_START_ENTRY, _START_TX, _START_ENTRY_AMT, _START_STMT, _START_BAL, _START_BAL_AMT) = range(1, 7)
_START_TX_AMT, _START_TX_AMT2 = 7, 8
_TX_CCY = {_START_TX_AMT: "ccy", _START_TX_AMT2: "tx_ccy"}
_ON_START = {
    _NTRY: _START_ENTRY,
    _TXDTLS: _START_TX,
    f"{_NTRY}/Amt": _START_ENTRY_AMT,
    f"{_TXDTLS}/Amt": _START_TX_AMT,
    f"{_TXDTLS}/AmtDtls/TxAmt/Amt": _START_TX_AMT2,
    _STMT: _START_STMT,
    _BAL: _START_BAL,
    f"{_BAL}/Amt": _START_BAL_AMT,
}
_FEE_SUBFAMILIES = frozenset({"CHRG", "COMM", "COME", "COMI", "FEES", "SUBS"})


class _Node:
    """A node of the tree of element paths the camt parser cares about."""

    __slots__ = ("children", "start", "end")

    def __init__(self, start=0, end=None):
        self.children: dict[str, _Node] = {}
        self.start = start
        self.end = end


_SKIP = _Node()  # every element outside the paths above: it has no children of interest


@lru_cache(maxsize=16)
def _camt_tree(ns: str) -> _Node:
    """The paths as a tree keyed by expat's "namespace name" element names."""
    root = _Node()
    for path in {*_ON_END, *_ON_START}:
        node = root
        for local in path.split("/"):
            node = node.children.setdefault(f"{ns} {local}", _Node())
        node.start = _ON_START.get(path, 0)
        node.end = _ON_END.get(path)
    return root


def _attribute(attrs: list[str], name: str) -> str:
    for i in range(0, len(attrs), 2):
        if attrs[i] == name:
            return attrs[i + 1]
    return ""


def _camt_parser(out: list):
    """An expat parser that appends each booked entry (StatementRow) and, at the end of each
    <Stmt>, its StatementHeader to `out`. Only the current entry is kept in memory; DOCTYPE
    and entity declarations are refused before anything is expanded."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = CHUNK_SIZE
    parser.ordered_attributes = True  # attributes as [name, value, ...]: cheaper than a dict
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    text = ""
    entry: dict | None = None
    tx: dict | None = None  # the entry's current <TxDtls>
    bal: dict | None = None
    stmt: dict | None = None
    entry_no = 0

    def line() -> int:
        return parser.CurrentLineNumber

    def refuse_doctype(*args):
        raise StatementError(
            "the XML has a DOCTYPE declaration; camt.053 files have none and it is refused "
            "(entity expansion and external entities are unsafe)",
            code="unsafe_xml",
            line_no=line(),
        )

    def refuse_entity(*args):
        raise StatementError(
            "the XML declares or references an external entity; refused as unsafe",
            code="unsafe_xml",
            line_no=line(),
        )

    def start(name: str, attrs: list[str]) -> None:
        nonlocal text, entry, tx, bal, stmt, entry_no
        text = ""
        if not stack:
            ns, _, local = name.rpartition(" ")
            if local != "Document" or not _CAMT_NS_TEXT.match(ns):
                where = f" in namespace {ns!r}" if ns else ""
                raise wrong_format(
                    f"the XML root is <{local}>{where}, not a camt.053 (001.02 to 001.13) Document"
                )
            stack.append(_camt_tree(ns))
            return
        node = stack[-1].children.get(name, _SKIP)
        stack.append(node)
        action = node.start
        if not action:
            if node is _SKIP and len(stack) > MAX_XML_DEPTH:
                raise row_error("the XML is nested too deeply", line())
        elif action == _START_ENTRY:
            entry_no += 1
            entry = {"line": line(), "txs": []}
            tx = None
        elif action == _START_TX:
            tx = {"ustrd": [], "strd": []}
            entry["txs"].append(tx)
        elif action == _START_ENTRY_AMT:
            entry["ccy"] = _attribute(attrs, "Ccy")
        elif action in _TX_CCY:
            tx[_TX_CCY[action]] = _attribute(attrs, "Ccy")
        elif action == _START_STMT:
            stmt = {
                "line": line(),
                "bals": [],
                "count": 0,
                "sum": ZERO,
                "currencies": set(),
                "by_value": {},  # value date -> sum of the entries value-dated then
            }
        elif action == _START_BAL:
            bal = {"line": line()}
        elif action == _START_BAL_AMT:
            bal["ccy"] = _attribute(attrs, "Ccy")

    def chars(data: str) -> None:
        nonlocal text
        text += data
        if len(text) > MAX_XML_TEXT:
            raise row_error("an XML element's text is too long", line())

    def end(name: str) -> None:
        nonlocal entry, tx, bal, stmt
        action = stack.pop().end
        if action is None:
            return
        kind, key = action
        if kind == "e":
            entry.setdefault(key, text.strip())
        elif kind == "t":
            tx.setdefault(key, text.strip())
        elif kind == "u":
            tx[key].append(text.strip())
        elif kind == "entry":
            rows = _camt_rows(entry, entry_no, stmt)
            entry = tx = None
            if rows:
                stmt["count"] += 1
                stmt["currencies"].add(rows[0].currency)
                for row in rows:
                    stmt["sum"] += row.amount
                out.extend(rows)
        elif kind == "b":
            bal.setdefault(key, text.strip())
        elif kind == "s":
            stmt.setdefault(key, text.strip())
        elif kind == "bal":
            stmt["bals"].append(bal)
            bal = None
        elif kind == "stmt":
            out.append(_camt_header(stmt))
            stmt = None

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    return parser


def _camt_feed(parser, chunk: bytes, final: bool = False) -> None:
    try:
        parser.Parse(chunk, final)
    except expat.ExpatError as exc:
        if final and exc.code in _TRUNCATED_XML:
            raise StatementError(
                "the XML ends early: the file looks truncated",
                code="truncated",
                line_no=exc.lineno,
            ) from None
        raise StatementError(
            f"the XML is not well-formed ({expat.ErrorString(exc.code)})",
            code="malformed_row",
            line_no=exc.lineno,
        ) from None
    except (LookupError, UnicodeError) as exc:  # an encoding expat and Python do not know
        raise StatementError(
            f"the XML's encoding cannot be read ({exc})",
            code="malformed_row",
            line_no=parser.CurrentLineNumber,
        ) from None


_TRUNCATED_XML = frozenset(
    expat.errors.codes[message]
    for message in (
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    )
)


def _camt_date(e: dict, key: str, bad) -> date | None:
    if e.get(key):
        text = e[key]
        try:
            return strict_date(text, "%Y-%m-%d")
        except ValueError:
            raise bad(f"date {text!r} is not a valid date (YYYY-MM-DD)") from None
    if e.get(f"{key}_at"):
        text = e[f"{key}_at"]
        try:
            value = datetime.fromisoformat(text).date()
        except ValueError:
            raise bad(f"date-time {text!r} is not an ISO 8601 date-time") from None
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise bad(f"date-time {text!r} is out of range")
        return value
    return None


def _camt_amount(raw: str, currency: str, line: int, bad) -> Decimal:
    if not _CAMT_AMOUNT.match(raw):
        if NOT_FINITE.match(raw):
            raise bad(f"amount {raw!r} is not a finite number")
        raise bad(f"amount {raw!r} is not a number")
    amount = Decimal(raw)
    if amount.as_tuple().exponent < -2 or currency in ODD_EXPONENTS:
        check_places(amount, currency, raw, line)
    return amount


def _camt_rows(e: dict, n: int, stmt: dict) -> list[StatementRow]:
    """The rows of one <Ntry>: none if not booked, one per transaction of a batch entry whose
    transactions' amounts add up to it, else one."""
    line = e["line"]

    def bad(message):
        return row_error(f"entry {n}: {message}", line)

    status = e.get("status", "BOOK").upper()
    if status not in ("BOOK", ""):
        return []  # pending / information-only entries are not booked money
    if e.get("amount") is None:
        raise bad("the entry has no <Amt>")
    currency = e.get("ccy", "")
    if currency not in seen_currencies:
        if not currency:
            raise bad("the amount has no Ccy attribute")
        currency = parse_currency(currency, line)
    amount = _camt_amount(e["amount"], currency, line, bad)
    sign = e.get("sign")
    if sign == "DBIT":
        amount = -amount
    elif sign != "CRDT":
        raise bad(f"CdtDbtInd {sign!r} is neither CRDT nor DBIT")
    value_on = _camt_date(e, "value", bad)
    booked_on = _camt_date(e, "booked", bad) or value_on
    note = ""
    if booked_on is None:  # both are optional in the schema: the statement's date is taken
        booked_on, what = _statement_date(stmt, bad)
        note = f"the entry has no booking or value date; the statement's {what} is used"
    else:
        by_value = stmt["by_value"]
        by_value[value_on] = by_value.get(value_on, ZERO) + amount
    category = "fee" if e.get("subfamily", "").upper() in _FEE_SUBFAMILIES else "transfer"
    txs = e["txs"]
    if len(txs) > 1:
        amounts = _batch_amounts(txs, amount, currency, line, bad)
        if amounts is not None:
            return [
                _camt_tx_row(e, tx, n, tx_amount, currency, booked_on, category, note)
                for tx, tx_amount in zip(txs, amounts, strict=True)
            ]
    tx = txs[0] if txs else {}
    return [_camt_tx_row(e, tx, n, amount, currency, booked_on, category, note)]


def _statement_date(stmt: dict, bad) -> tuple[date, str]:
    """The date of a statement, for an entry that has none: its closing booked balance's,
    else the end of the period it covers, else when it was made."""
    for bal in stmt["bals"]:
        if bal.get("type", "").upper() == "CLBD":
            on = _camt_date(bal, "date", bad)
            if on is not None:
                return on, f"closing balance date {on.isoformat()}"
    for key, what in (("to", "period end"), ("created", "creation date")):
        on = _camt_date(stmt, key, bad)
        if on is not None:
            return on, f"{what} {on.isoformat()}"
    raise bad("the entry has no booking or value date, and the statement no date either")


def _batch_amounts(txs: list[dict], amount: Decimal, currency: str, line: int, bad):
    """Each transaction's signed amount, if every one states its amount in the entry's
    currency (else None: the entry is kept as one row); balance_mismatch if they do not add
    up to the entry."""
    unsigned = []
    for tx in txs:
        if tx.get("amount") is not None and tx.get("ccy", currency) == currency:
            raw = tx["amount"]
        elif tx.get("tx_amount") is not None and tx.get("tx_ccy", currency) == currency:
            raw = tx["tx_amount"]
        else:
            return None
        unsigned.append(_camt_amount(raw, currency, line, bad))
    # A transaction's own CdtDbtInd is the entry's in a batch of one direction; banks write it
    # wrongly often enough (PostFinance) that the entry's sign is tried first.
    entry_signed = [u if amount >= 0 else -u for u in unsigned]
    if sum(entry_signed) == amount:
        return entry_signed
    own_signed = [
        -u if tx.get("sign") == "DBIT" or (not tx.get("sign") and amount < 0) else u
        for tx, u in zip(txs, unsigned, strict=True)
    ]
    if sum(own_signed) == amount:
        return own_signed
    raise StatementError(
        f"the entry of {amount} {currency} holds {len(txs)} transactions that add up to "
        f"{sum(entry_signed)}",
        code="balance_mismatch",
        line_no=line,
    )


def _camt_tx_row(
    e: dict,
    tx: dict,
    n: int,
    amount: Decimal,
    currency: str,
    booked_on: date,
    category: str,
    note: str,
) -> StatementRow:
    ustrd = " ".join(u for u in tx.get("ustrd", ()) if u)
    remittance = " ".join(r for r in (ustrd, *tx.get("strd", ())) if r)
    e2e = tx.get("e2e", "")
    if e2e.upper() == "NOTPROVIDED":
        e2e = ""
    reference = e2e or tx.get("bank_ref") or e.get("bank_ref") or ustrd
    # the other side: the debtor of money in, the creditor of money out
    side = "debtor" if amount >= 0 else "creditor"
    return StatementRow(
        n,
        reference,
        amount,
        currency,
        booked_on,
        e.get("info") or ustrd,
        category,
        counterparty_name=" ".join(tx.get(side, "").split()),
        counterparty_iban=tx.get(f"{side}_iban", "").replace(" ", "").upper(),
        remittance=remittance,
        end_to_end_id=e2e,
        note=note,
    )


def _camt_header(s: dict) -> StatementHeader:
    opening = closing = None
    for bal in s["bals"]:
        kind = bal.get("type", "").upper()
        line = bal["line"]

        def bad(message, line=line, kind=kind):
            return row_error(f"balance {kind or '?'}: {message}", line)

        raw = bal.get("amount", "")
        if not _CAMT_AMOUNT.match(raw):
            raise bad(f"amount {raw!r} is not a number")
        amount = Decimal(raw)
        if bal.get("sign") == "DBIT":
            amount = -amount
        elif bal.get("sign") != "CRDT":
            raise bad(f"CdtDbtInd {bal.get('sign')!r} is neither CRDT nor DBIT")
        currency = parse_currency(bal.get("ccy", ""), line)
        on = _camt_date(bal, "date", bad)
        if kind in ("OPBD", "PRCD") and opening is None:
            opening = (amount, currency, on)
        elif kind == "CLBD" and closing is None:
            closing = (amount, currency, on)
    currency = s.get("currency") or (opening or closing or (None, "", None))[1]
    total = s["sum"]
    if (
        opening is not None
        and closing is not None
        and opening[1] == closing[1]
        and s["currencies"] <= {opening[1]}
        and opening[0] + total != closing[0]
    ):
        # A closing *booked* balance may leave out entries value-dated after its date (they
        # are in the forward available balance): it must then agree without them.
        later = sum(
            (v for on, v in s["by_value"].items() if on and closing[2] and on > closing[2]),
            ZERO,
        )
        if not later or opening[0] + total - later != closing[0]:
            without = (
                f"; without the entries value-dated after {closing[2]} ({later}) it is "
                f"{opening[0] + total - later}"
                if later
                else ""
            )
            raise StatementError(
                f"statement {s.get('id', '')!r} does not add up: opening balance {opening[0]} "
                f"+ entries {total} = {opening[0] + total}{without}, but the closing balance "
                f"is {closing[0]}",
                code="balance_mismatch",
                line_no=s["line"],
            )
    return StatementHeader(
        statement_id=s.get("id", ""),
        account=s.get("iban") or s.get("account", ""),
        currency=currency,
        opening_balance=opening[0] if opening else None,
        closing_balance=closing[0] if closing else None,
        opening_date=opening[2] if opening else None,
        closing_date=closing[2] if closing else None,
        entry_count=s["count"],
        line_no=s["line"],
        sequence=s.get("seq", ""),
    )


def iter_camt053(source: Source) -> Iterator[StatementRow | StatementHeader]:
    out: list = []
    parser = _camt_parser(out)
    for chunk in source.chunks():
        _camt_feed(parser, chunk)
        if out:
            yield from out
            out.clear()
    _camt_feed(parser, b"", final=True)
    yield from out
