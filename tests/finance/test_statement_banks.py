"""Bank statements (camt.053, MT940) as banks write them: who the other side is, what they
wrote, batch entries, and the dialects of real banks' files.

No database, no Redis: these are pure parsers.
"""

import io
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import mt940 as mt940_package
import pytest

from finance.reconciliation.base import StatementError, StatementRow
from finance.reconciliation.mt940_details import real_reference
from finance.reconciliation.readers import read_statement, read_statement_headers
from sandbox import statements as writers

D = Decimal


@pytest.fixture(autouse=True)
def _clean_redis():
    """Overrides the suite's autouse Redis fixture: nothing here touches Redis."""
    yield


def read(data: bytes, fmt: str) -> list[StatementRow]:
    return list(read_statement(io.BytesIO(data), fmt))


def bank_fields(rows) -> list[tuple]:
    return [
        (r.reference, r.counterparty_name, r.counterparty_iban, r.remittance, r.end_to_end_id)
        for r in rows
    ]


def camt(entries: str, version: str = "08", balances: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
<BkToCstmrStmt><Stmt><Id>S1</Id>
<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>
{balances}
{entries}
</Stmt></BkToCstmrStmt></Document>
""".encode()


def ntry(amount: str, sign: str, details: str, ref: str = "BANKREF", dates: str = "") -> str:
    dates = dates or "<BookgDt><Dt>2024-03-15</Dt></BookgDt><ValDt><Dt>2024-03-15</Dt></ValDt>"
    return f"""<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd>
<Sts><Cd>BOOK</Cd></Sts>{dates}<AcctSvcrRef>{ref}</AcctSvcrRef>
<NtryDtls>{details}</NtryDtls></Ntry>"""


# --- camt.053: the other side, the remittance, the end-to-end id ------------------------------

CREDIT_08 = """<TxDtls>
  <Refs><AcctSvcrRef>TX1</AcctSvcrRef><EndToEndId>E2E-DEP-1</EndToEndId></Refs>
  <RltdPties>
    <Dbtr><Pty><Nm>Nora  Ng</Nm></Pty></Dbtr>
    <DbtrAcct><Id><IBAN>gb33 bukb 2020 1555 5555 55</IBAN></Id></DbtrAcct>
    <Cdtr><Pty><Nm>Example Brokerage Ltd</Nm></Pty></Cdtr>
    <CdtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></CdtrAcct>
  </RltdPties>
  <RmtInf><Ustrd>Deposit client</Ustrd><Ustrd>10042</Ustrd>
    <Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
</TxDtls>"""

DEBIT_02 = """<TxDtls>
  <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
  <RltdPties>
    <Dbtr><Nm>Example Brokerage Ltd</Nm></Dbtr>
    <DbtrAcct><Id><IBAN>DE02120300000000202051</IBAN></Id></DbtrAcct>
    <Cdtr><Nm>Jan de Vries</Nm></Cdtr>
    <CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct>
  </RltdPties>
  <RmtInf><Ustrd>Withdrawal 77</Ustrd></RmtInf>
</TxDtls>"""


@pytest.mark.parametrize("version", ["02", "04", "08", "13"])
def test_camt053_names_the_other_side_of_money_in_and_out(version):
    # up to 001.07 the name sits in Dbtr/Nm, from 001.08 in Dbtr/Pty/Nm: both are read
    entries = ntry("1000.00", "CRDT", CREDIT_08) + ntry("250.50", "DBIT", DEBIT_02, ref="B2")
    rows = read(camt(entries, version), "camt053")
    assert bank_fields(rows) == [
        (
            "E2E-DEP-1",
            "Nora Ng",  # the debtor of money in
            "GB33BUKB20201555555555",
            "Deposit client 10042 RF18539007547034",
            "E2E-DEP-1",
        ),
        ("B2", "Jan de Vries", "NL91ABNA0417164300", "Withdrawal 77", ""),  # the creditor
    ]


def test_camt053_without_details_has_no_other_side():
    data = camt(ntry("3.90", "DBIT", "").replace("<NtryDtls></NtryDtls>", ""))
    (only,) = read(data, "camt053")
    assert bank_fields([only]) == [("BANKREF", "", "", "", "")]


# --- camt.053: batch entries -------------------------------------------------------------------


def tx(e2e: str, amount: str, name: str, sign: str = "CRDT", amount_path: str = "Amt") -> str:
    amt = f'<Amt Ccy="EUR">{amount}</Amt>'
    if amount_path == "AmtDtls":
        amt = f"<AmtDtls><TxAmt>{amt}</TxAmt></AmtDtls>"
    return f"""<TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>{amt}
<CdtDbtInd>{sign}</CdtDbtInd><RltdPties><Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr></RltdPties>
<RmtInf><Ustrd>Deposit {e2e}</Ustrd></RmtInf></TxDtls>"""


@pytest.mark.parametrize("amount_path", ["Amt", "AmtDtls"])
def test_camt053_batch_entry_keeps_every_transaction(amount_path):
    batch = "".join(
        tx(e2e, amount, name, amount_path=amount_path)
        for e2e, amount, name in [("E2E-1", "100.00", "A One"), ("E2E-2", "250.25", "B Two")]
    )
    balances = """<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-14</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">360.25</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-15</Dt></Dt></Bal>"""
    rows = read(camt(ntry("350.25", "CRDT", batch), balances=balances), "camt053")
    assert [(r.line_no, r.reference, r.amount, r.counterparty_name) for r in rows] == [
        (1, "E2E-1", D("100.00"), "A One"),
        (1, "E2E-2", D("250.25"), "B Two"),
    ]
    assert [r.remittance for r in rows] == ["Deposit E2E-1", "Deposit E2E-2"]


def test_camt053_batch_of_debits_and_a_wrong_transaction_indicator():
    # a batch of payouts: the transactions say CRDT (as PostFinance writes them), the entry DBIT
    batch = tx("PO-1", "40.00", "X") + tx("PO-2", "60.00", "Y")
    rows = read(camt(ntry("100.00", "DBIT", batch)), "camt053")
    assert [(r.reference, r.amount) for r in rows] == [("PO-1", D("-40.00")), ("PO-2", D("-60.00"))]


def test_camt053_batch_with_both_directions_uses_each_transaction_indicator():
    batch = tx("IN-1", "100.00", "X", "CRDT") + tx("OUT-1", "30.00", "Y", "DBIT")
    rows = read(camt(ntry("70.00", "CRDT", batch)), "camt053")
    assert [(r.reference, r.amount) for r in rows] == [
        ("IN-1", D("100.00")),
        ("OUT-1", D("-30.00")),
    ]


def test_camt053_batch_that_does_not_add_up_is_refused():
    batch = tx("E2E-1", "100.00", "X") + tx("E2E-2", "200.00", "Y")
    with pytest.raises(StatementError) as info:
        read(camt(ntry("350.00", "CRDT", batch)), "camt053")
    assert info.value.code == "balance_mismatch"
    assert "2 transactions that add up to 300.00" in info.value.message
    assert info.value.message.startswith("line ")


def test_camt053_batch_without_transaction_amounts_stays_one_row():
    batch = "<TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs></TxDtls>" * 3
    rows = read(camt(ntry("350.00", "CRDT", batch)), "camt053")
    assert [(r.reference, r.amount) for r in rows] == [("E2E-1", D("350.00"))]


# --- MT940: the :86: field's subfields ---------------------------------------------------------


def mt940(*lines: str, closing: str = "C240315EUR1000,00") -> bytes:
    body = "\r\n".join(
        [":20:S1", ":25:DE02120300000000202051", ":28C:1/1", ":60F:C240314EUR0,00", *lines]
    )
    return f"{body}\r\n:62F:{closing}\r\n-\r\n".encode()


def test_mt940_german_subfields():
    data = mt940(
        ":61:2403150315C1000,00NTRFNONREF//B1",
        ":86:166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-DEP-10042?21KREF+K1?22SVWZ+Dep",
        "osit client 10042?30GENODEF1S10?31DE89 3704 0044 0532 0130 00?32VERY LONG NAME OF THE",
        " CLIENT ?33GMBH & CO. KG",
    )
    assert bank_fields(read(data, "mt940")) == [
        (
            "E2E-DEP-10042",
            "VERY LONG NAME OF THE CLIENT GMBH & CO. KG",
            "DE89370400440532013000",
            "Deposit client 10042",
            "E2E-DEP-10042",
        )
    ]


def test_mt940_german_subfields_before_sepa_and_a_legacy_account():
    data = mt940(
        ":61:240315C1000,00NTRFNONREF//B1",
        ":86:051?00UEBERWEISUNG?20RECHNUNG 4711?21VOM 01.03.?3010020030?311234567890?32MAX MUSTER",
    )
    # a bank code and account number are no IBAN: the IBAN stays empty
    assert bank_fields(read(data, "mt940")) == [
        ("B1", "MAX MUSTER", "", "RECHNUNG 4711 VOM 01.03.", "")
    ]


def test_mt940_swift_codes_as_dutch_banks_write_them():
    data = mt940(
        ":61:2403150315C1000,00N654NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/J. DE",
        " VRIES/REMI/Storting klant 10042/EREF/E2E-DEP-10042",
    )
    assert bank_fields(read(data, "mt940")) == [
        (
            "E2E-DEP-10042",
            "J. DE VRIES",
            "NL91ABNA0417164300",
            "Storting klant 10042",
            "E2E-DEP-10042",
        )
    ]


def test_mt940_free_text_is_the_remittance():
    data = mt940(":61:240315C1000,00NTRFREF-1", ":86:Deposit from N. Ng, client 10042")
    assert bank_fields(read(data, "mt940")) == [
        ("REF-1", "", "", "Deposit from N. Ng, client 10042", "")
    ]


def test_bank_fields_round_trip_through_the_sandbox_writers():
    rows = [
        StatementRow(
            0,
            "E2E-DEP-10042",
            D("1000.00"),
            "EUR",
            date(2024, 3, 15),
            "Deposit client 10042",
            "transfer",
            counterparty_name="Nora Ng",
            counterparty_iban="GB33BUKB20201555555555",
        ),
        StatementRow(
            0,
            "WD-77",
            D("-250.50"),
            "EUR",
            date(2024, 3, 15),
            "Withdrawal 77",
            "transfer",
            counterparty_name="Jan de Vries, a name longer than 27 characters",
            counterparty_iban="NL91ABNA0417164300",
        ),
    ]
    camt_rows = read(
        writers.write_camt053(
            rows, account_iban="DE02120300000000202051", currency="EUR", opening_balance=D(0)
        ),
        "camt053",
    )
    mt_rows = read(
        writers.write_mt940(
            rows, account="DE02120300000000202051", currency="EUR", opening_balance=D(0)
        ),
        "mt940",
    )
    for got in (camt_rows, mt_rows):
        assert [(r.counterparty_name, r.counterparty_iban, r.remittance) for r in got] == [
            (r.counterparty_name, r.counterparty_iban, r.description) for r in rows
        ]
        assert [r.end_to_end_id for r in got] == ["E2E-DEP-10042", "WD-77"]


# --- MT940 files as banks send them ---------------------------------------------------------

SAMPLES = Path(__file__).parent / "data" / "bank-statements"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def read_until_refused(data: bytes, fmt: str) -> tuple[list[StatementRow], StatementError | None]:
    """The rows read before the reader refused the file (it streams), and its error."""
    rows = []
    try:
        for got in read_statement(io.BytesIO(data), fmt):
            rows.append(got)
    except StatementError as exc:
        return rows, exc
    return rows, None


@pytest.mark.parametrize(
    ("name", "rows", "total"),
    [
        ("mt940-abnamro-sample.sta", 5, "23853.22"),  # header lines before each :20:
        ("mt940-triodos-sample.sta", 8, "-90.98"),  # NIT NONREF, >20 subfields
        ("mt940-asn-spaces-for-entry-date.sta", 6, "228.22"),  # spaces for the entry date
        ("mt940-sns.sta", 2, "-25.00"),  # SWIFT envelope {1:}{2:}{3:}{4: ... -}{5:}
        ("mt940-citi.sta", 5, "-1142.75"),  # DD (funds code), NMSCNONREF//
        ("mt940-mbank.sta", 3, "0.03"),  # a bank reference, supplementary details
        ("mt940-latin1-bytes.sta", 4, "-179066.75"),  # Latin-1 bytes, German subfields
        ("mt940-february-30.sta", 1, "-6.00"),  # a value date that is not a date
    ],
)
def test_real_mt940_files_are_read(name, rows, total):
    got = read(sample(name), "mt940")
    assert len(got) == rows
    assert sum(r.amount for r in got) == D(total)  # and each message added up


def test_real_mt940_shapes():
    asn = read(sample("mt940-asn-spaces-for-entry-date.sta"), "mt940")
    assert [r.booked_on for r in asn[:2]] == [date(2020, 1, 1), date(2020, 1, 5)]
    assert asn[0].note == ""
    citi = read(sample("mt940-citi.sta"), "mt940")
    assert {r.reference for r in citi} == {""}  # NONREF and an empty bank reference: none
    mbank = read(sample("mt940-mbank.sta"), "mt940")
    assert [r.reference for r in mbank] == ["MB170119012058", "MB170119012085", "MB170119012121"]
    latin = read(sample("mt940-latin1-bytes.sta"), "mt940")
    assert latin[0].counterparty_name == "PAYPAL"
    assert "Überweisung" in latin[3].remittance
    (feb,) = read(sample("mt940-february-30.sta"), "mt940")
    assert feb.booked_on == date(2016, 3, 1)  # the entry date, which is a date
    assert feb.note == "value date 160230 is not a date; the entry date is used"


def test_mt940_dates_that_are_not_dates():
    def one(line_61: str) -> StatementRow:
        (only,) = read(mt940(line_61, closing="D240315EUR6,00"), "mt940")
        return only

    entry_bad = one(":61:2402280230D6,00NCHGNONREF")
    assert entry_bad.booked_on == date(2024, 2, 28)
    assert entry_bad.note == "entry date 0230 (MMDD) is not a date; the value date is used"
    both_bad = one(":61:230230D6,00NCHGNONREF")
    assert both_bad.booked_on == date(2023, 2, 28)
    assert both_bad.note == "value date 230230 is not a date; taken as 2023-02-28"
    with pytest.raises(StatementError, match="line 5: :61: date '2413010101'"):
        one(":61:2413010101D6,00NCHGNONREF")


@pytest.mark.parametrize(
    ("line_61", "info", "reference"),
    [
        (":61:240315D6,00NTRFKREF+//B1", "?20KREF+PAYOUT-77?21SVWZ+Payout", "PAYOUT-77"),
        (":61:240315D6,00NTRFKREF+//B1", "?20EREF+E2E-77?21KREF+BATCH-1", "E2E-77"),
        (":61:240315D6,00NTRFNONREF//B1", "?20EREF+NOTPROVIDED?21SVWZ+x", "B1"),
        (":61:240315D6,00NTRFNONREF//NONREF", "?20SVWZ+x", ""),
        (":61:240315D6,00NMSCNONREF//", "?20SVWZ+x", ""),
        (":61:240315D6,00S   X", "?20SVWZ+x", "X"),
        (":61:240315D6,00NIT NONREF", "?20SVWZ+x", ""),
    ],
)
def test_mt940_placeholder_references_are_never_the_reference(line_61, info, reference):
    (only,) = read(mt940(line_61, f":86:166?00GUTSCHRIFT{info}", closing="D240315EUR6,00"), "mt940")
    assert only.reference == reference


@pytest.mark.parametrize(
    ("name", "code", "fragments"),
    [
        ("mt940-abnamro-unbalanced.sta", "balance_mismatch", ["line 27:", "does not add up"]),
        ("mt940-ing.sta", "balance_mismatch", ["line 26:", "closing balance :62F: is 3.47"]),
        ("mt940-knab.sta", "balance_mismatch", ["line 20:", "opening balance 3058.98"]),
        ("mt940-postfinance.sta", "balance_mismatch", ["line 27:", "= 159.4"]),
        ("mt940-rabobank.sta", "balance_mismatch", ["line 11:", "= -740.11"]),
        ("mt940-raiffeisen-hu.sta", "balance_mismatch", ["line 40:", "25281687.60"]),
        ("mt940-gv-codes-truncated.sta", "truncated", ["no closing balance :62F:"]),
    ],
)
def test_real_mt940_files_that_do_not_add_up_are_refused(name, code, fragments):
    rows, error = read_until_refused(sample(name), "mt940")
    assert error is not None and error.code == code, error
    for fragment in fragments:
        assert fragment in error.message


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda t: t.replace("D203,N369", "D203,001N369"), "more decimal places than EUR"),
        (lambda t: t.replace(":62F:C090624EUR17159,49\n-\n", ""), "no closing balance"),
        (lambda t: t.replace("940\nABNANL2A\n:20:", "940\nabnanl2a\n:20:", 1), "line 3:"),
    ],
)
def test_real_mt940_file_damaged_is_refused_naming_the_line(mangle, fragment):
    data = mangle(sample("mt940-abnamro-sample.sta").decode()).encode()
    _rows, error = read_until_refused(data, "mt940")
    assert error is not None and fragment in error.message, error


def test_mt940_control_bytes_around_swift_messages():
    data = sample("mt940-sns.sta").replace(b"{1:", b"\x01{1:").replace(b"-}{5:}", b"-}{5:}\x03")
    assert read(data, "mt940") == read(sample("mt940-sns.sta"), "mt940")


# --- a second reading: the mt-940 package ------------------------------------------------------


def oracle(data: bytes) -> list[dict] | None:
    """The transactions the mt-940 package reads (None if it cannot read the file)."""
    logging.getLogger("mt940").setLevel(logging.CRITICAL)
    transactions = mt940_package.models.Transactions()
    try:
        transactions.parse(data.decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - the package's own failures: nothing to compare
        return None
    return [t.data for t in transactions.transactions]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.sta")))
def test_mt940_reads_agree_with_the_mt940_package(name):
    data = sample(name)
    ours, _error = read_until_refused(data, "mt940")
    theirs = oracle(data)
    if theirs is None:  # mt-940 5.1.1 cannot read supplementary details after an entry
        assert name == "mt940-asn-spaces-for-entry-date.sta"
        return
    assert ours, name
    for row, their in zip(ours, theirs, strict=False):  # the rows both read
        assert row.amount == D(str(their["amount"].amount))
        assert row.booked_on == (their.get("entry_date") or their["date"])
        custref = real_reference(their.get("customer_reference") or "")
        eref = real_reference(their.get("end_to_end_reference") or "")
        expected = (
            custref
            if custref and not (eref and len(custref) == 16 and eref.startswith(custref))
            else eref or real_reference(their.get("bank_reference") or "")
        )
        assert row.reference == expected, (row.line_no, their)


# --- camt.053 as banks write it ------------------------------------------------------------


def test_camt053_closing_booked_balance_leaving_out_entries_value_dated_later():
    # PostFinance: CLBD 215112.21 leaves out the 1537.00 value-dated the next day; the forward
    # available balance (FWAV 216649.21) has it
    data = sample("camt053-postfinance-sample.xml")
    rows = read(data, "camt053")
    assert [r.amount for r in rows] == [
        D("4.50"),
        D("-77.70"),
        D("1500.00"),
        D("1537.00"),
        D("1692.22"),
    ]
    (header,) = read_statement_headers(io.BytesIO(data), "camt053")
    assert (header.opening_balance, header.closing_balance) == (D("211993.19"), D("215112.21"))
    wrong = data.replace(
        b"215112.21</Amt>\n\t\t\t\t<CdtDbtInd>CRDT</CdtDbtInd>",
        b"215112.20</Amt>\n\t\t\t\t<CdtDbtInd>CRDT</CdtDbtInd>",
        1,
    )
    assert wrong != data
    _rows, error = read_until_refused(wrong, "camt053")
    assert error.code == "balance_mismatch"
    assert "without the entries value-dated after 2020-11-24 (1537.00) it is 215112.21" in (
        error.message
    )


CLBD = """<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">5.00</Amt>
<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-31</Dt></Dt></Bal>"""


def test_camt053_entry_without_dates_takes_the_statements_with_a_note():
    undated = ntry("5.00", "CRDT", "", dates=" ").replace("<NtryDtls></NtryDtls>", "")
    (only,) = read(camt(undated, balances=CLBD), "camt053")
    assert only.booked_on == date(2024, 3, 31)
    assert only.note == (
        "the entry has no booking or value date; the statement's closing balance date "
        "2024-03-31 is used"
    )
    created = camt(undated).replace(
        b"<Id>S1</Id>", b"<Id>S1</Id><CreDtTm>2024-04-01T06:00:00</CreDtTm>"
    )
    assert read(created, "camt053")[0].booked_on == date(2024, 4, 1)
    with pytest.raises(StatementError, match="the statement no date either"):
        read(camt(undated), "camt053")
