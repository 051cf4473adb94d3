"""Reconciliation file readers (finance.reconciliation) and the sandbox writers that make such
files.

No database, no Redis: these are pure parsers.
"""

import io
import time
from dataclasses import astuple, replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.errors import InvalidInput
from finance.reconciliation.base import FORMATS, StatementError, StatementRow
from finance.reconciliation.generic_csv import ColumnMapping, suggest_mapping
from finance.reconciliation.readers import (
    detect_format,
    read_camt053_header,
    read_statement,
    read_statement_headers,
)
from sandbox import statements as writers

D = Decimal
IBAN = "DE89370400440532013000"
GENERIC = ColumnMapping(
    reference="reference",
    amount="amount",
    currency="currency",
    date="date",
    description="description",
    category="category",
)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Overrides the suite's autouse Redis fixture: nothing here touches Redis."""
    yield


def read(data: bytes, fmt: str, **kwargs) -> list[StatementRow]:
    return list(read_statement(io.BytesIO(data), fmt, **kwargs))


def content(rows) -> list[tuple]:
    """Rows without their line numbers (which depend on the format) nor what only bank
    statements carry (the other side, the remittance text: see test_statement_banks)."""
    return [astuple(row)[1:9] for row in rows]


def fails(data: bytes, fmt: str, code: str, *fragments: str, **kwargs) -> StatementError:
    with pytest.raises(StatementError) as info:
        read(data, fmt, **kwargs)
    error = info.value
    assert error.code == code, error.message
    for fragment in fragments:
        assert fragment in error.message, error.message
    return error


def row(reference, amount, currency="EUR", on=date(2024, 3, 15), description="", **kw):
    return StatementRow(0, reference, D(amount), currency, on, description, **kw)


# --- round trips: sandbox writer -> product reader ---------------------------------------------

PSP_ROWS = [
    row(
        "pi_3OaB1C2eZvKYlo2C1xYz0001",
        "250.00",
        "USD",
        description="Deposit 10042",
        category="charge",
    ),
    row(
        "re_3OaB1C2eZvKYlo2C0rEf0001",
        "-50.00",
        "USD",
        date(2024, 3, 16),
        "Refund",
        category="refund",
        payment_reference="pi_3OaB1C2eZvKYlo2C1xYz0001",
    ),
    row(
        "dp_1OaB1C2eZvKYlo2CdIsP0001",
        "-250.00",
        "USD",
        date(2024, 3, 18),
        "Chargeback",
        category="dispute",
        payment_reference="pi_3OaB1C2eZvKYlo2C1xYz0001",
    ),
    row(
        "dp_1OaB1C2eZvKYlo2CdIsP0001",
        "250.00",
        "USD",
        date(2024, 3, 28),
        "Dispute won",
        category="dispute_reversal",
        payment_reference="pi_3OaB1C2eZvKYlo2C1xYz0001",
    ),
    row(
        "pi_3OaB1C2eZvKYlo2C1xYz0002",
        "15000",
        "JPY",
        description='Deposit, "JP" desk',
        category="charge",
    ),
    row("po_1OaB1C2eZvKYlo2CpAyO0001", "-10000.00", "USD", category="payout"),
]


def test_stripe_round_trip():
    data = writers.write_stripe_itemized_csv(PSP_ROWS)
    rows = read(data, "stripe_csv")
    assert content(rows) == content(PSP_ROWS)
    assert [r.line_no for r in rows] == [2, 3, 4, 5, 6, 7]
    assert rows[4].amount == D("15000") and rows[4].currency == "JPY"


def test_generic_csv_round_trip():
    data = writers.write_generic_csv(PSP_ROWS)
    assert content(read(data, "csv", mapping=GENERIC)) == [
        content([replace(r, payment_reference="")])[0] for r in PSP_ROWS
    ]


def test_generic_csv_round_trip_semicolons_decimal_commas_and_bom():
    rows = [
        row("E2E-1", "1234.50", description="Einzahlung; Kunde 1"),
        row("E2E-2", "-0.05", description="Gebühr"),
        row("E2E-3", "-1000000", description="Auszahlung"),
    ]
    data = writers.write_generic_csv(
        rows,
        delimiter=";",
        decimal_comma=True,
        bom=True,
        date_format="%d.%m.%Y",
        columns=("date", "reference", "amount", "currency", "description"),
    )
    assert data.startswith(b"\xef\xbb\xbfdate;reference;amount")
    assert b";1234,50;" in data and b";-0,05;" in data
    mapping = replace(GENERIC, category=None, decimal_comma=True, date_format="%d.%m.%Y")
    assert content(read(data, "csv", mapping=mapping)) == content(rows)


def test_camt053_round_trip_and_header():
    rows = [
        row("E2E-DEP-10042", "1000.00", description="Deposit client 10042", category="transfer"),
        row(
            "WD-77", "-250.50", on=date(2024, 3, 16), description="Withdrawal", category="transfer"
        ),
        row(
            "FEE-2024-03", "-3.90", on=date(2024, 3, 16), description="Account fee", category="fee"
        ),
        row("E2E-LONG", "7.00", description="x" * 300, category="transfer"),
    ]
    data = writers.write_camt053(
        rows, account_iban=IBAN, currency="EUR", opening_balance=D("-100.00"), statement_id="S-7"
    )
    got = read(data, "camt053")
    assert content(got) == content(rows)
    assert [r.line_no for r in got] == [1, 2, 3, 4]  # entry numbers
    header = read_camt053_header(io.BytesIO(data))
    assert header.account == IBAN
    assert header.statement_id == "S-7"
    assert header.currency == "EUR"
    assert header.opening_balance == D("-100.00")
    assert header.closing_balance == D("652.60")
    assert header.opening_date == date(2024, 3, 15) and header.closing_date == date(2024, 3, 16)
    assert header.entry_count == 4


def test_camt053_round_trip_jpy():
    rows = [
        row("A1", "120000", "JPY", category="transfer"),
        row("A2", "-5", "JPY", category="transfer"),
    ]
    data = writers.write_camt053(rows, account_iban=IBAN, currency="JPY", opening_balance=D(0))
    assert content(read(data, "camt053")) == content(rows)


def test_mt940_round_trip_with_multiline_86_and_several_messages():
    first = [
        row("E2E-DEP-10042", "1000.00", description="Deposit client 10042", category="transfer"),
        row(
            "pi_3OaB1C2eZvKYlo2C1xYz0001-payout",  # longer than 16: NONREF in :61:, EREF in :86:
            "-250.50",
            on=date(2024, 3, 16),
            description="Withdrawal to the client's account at another bank, request 77",
            category="transfer",
        ),
        row("FEE0324", "-3.90", on=date(2024, 3, 16), description="Account fee", category="fee"),
    ]
    second = [
        row("JP-1", "120000", "JPY", on=date(2024, 12, 31), description="Yen", category="transfer")
    ]
    data = writers.write_mt940(
        first, account="10020030/1234567890", currency="EUR", opening_balance=D("12500.00")
    ) + writers.write_mt940(
        second, account="10020030/99", currency="JPY", opening_balance=D(0), statement_no="2"
    )
    text = data.decode("latin-1")
    field_86 = text.split(":86:")[2].split(":61:")[0]
    assert field_86.count("\r\n") >= 2  # the long :86: spans several lines
    assert ":61:2403160316D250,50NTRFNONREF//" in text
    rows = read(data, "mt940")
    assert content(rows) == content(first + second)
    assert rows[0].line_no == 5  # the :61: line
    headers = read_statement_headers(io.BytesIO(data), "mt940")
    assert [(h.account, h.currency, h.opening_balance, h.closing_balance) for h in headers] == [
        ("10020030/1234567890", "EUR", D("12500.00"), D("13245.60")),
        ("10020030/99", "JPY", D(0), D(120000)),
    ]


def test_writers_stream_in_chunks():
    rows = (row(f"R{i}", "1.00") for i in range(12_000))
    chunks = list(writers.iter_generic_csv(rows))
    assert len(chunks) > 2 and all(isinstance(c, bytes) for c in chunks)
    rows = (row(f"R{i}", "1.00") for i in range(12_000))
    chunks = list(
        writers.iter_camt053(rows, account_iban=IBAN, currency="EUR", opening_balance=D(0))
    )
    assert len(read(b"".join(chunks), "camt053")) == 12_000


def test_reader_streams_without_reading_the_whole_file():
    data = writers.write_generic_csv(row(f"R{i}", "1.00") for i in range(100_000))

    class Counting(io.BytesIO):
        consumed = 0

        def read(self, size=-1):
            chunk = super().read(size)
            Counting.consumed += len(chunk)
            return chunk

        readinto = None  # force read()

    rows = read_statement(Counting(data), "csv", mapping=GENERIC)
    assert next(rows).reference == "R0"
    assert Counting.consumed < 300_000 < len(data)


# --- hand-written samples, as providers and banks produce them ---------------------------------

STRIPE_SAMPLE = b"""\
automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created_utc,created,\
available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,\
customer_facing_amount,customer_facing_currency,regulatory_tag,customer_id,customer_email,\
payment_intent_id,charge_id,dispute_reason,refund_id,payment_metadata[client_id]
po_1OcK2dEZvKYlo2C0a1b2c3d4,2024-03-05 00:00:00,txn_3OcJ9kEZvKYlo2C01aBcDeFg,\
2024-03-01 09:15:22,2024-03-01 10:15:22,2024-03-05 00:00:00,usd,250.00,7.55,242.45,charge,\
ch_3OcJ9kEZvKYlo2C01xYzAbCd,"Deposit, wallet 10042",250.00,usd,,cus_PqR5sT6uV7wX8y,\
nora@example.com,pi_3OcJ9kEZvKYlo2C01xYzAbCd,ch_3OcJ9kEZvKYlo2C01xYzAbCd,,,10042
po_1OcK2dEZvKYlo2C0a1b2c3d4,2024-03-05 00:00:00,txn_3OcKAbEZvKYlo2C02gHiJkLm,\
2024-03-02 14:02:09,2024-03-02 15:02:09,2024-03-05 00:00:00,usd,-50.00,0.00,-50.00,refund,\
re_3OcKAbEZvKYlo2C00nOpQrSt,REFUND FOR PAYMENT,-50.00,usd,,cus_PqR5sT6uV7wX8y,\
nora@example.com,pi_3OcJ9kEZvKYlo2C01xYzAbCd,ch_3OcJ9kEZvKYlo2C01xYzAbCd,,\
re_3OcKAbEZvKYlo2C00nOpQrSt,10042
po_1OcK2dEZvKYlo2C0a1b2c3d4,2024-03-05 00:00:00,txn_1OcKCdEZvKYlo2C0uVwXyZaB,\
2024-03-03 08:00:00,2024-03-03 09:00:00,2024-03-05 00:00:00,usd,-250.00,15.00,-265.00,dispute,\
dp_1OcKCdEZvKYlo2C0cDeFgHiJ,Chargeback withdrawal for ch_3OcJ9kEZvKYlo2C01xYzAbCd,\
-250.00,usd,,cus_PqR5sT6uV7wX8y,nora@example.com,pi_3OcJ9kEZvKYlo2C01xYzAbCd,\
ch_3OcJ9kEZvKYlo2C01xYzAbCd,fraudulent,,10042
po_1OcK2dEZvKYlo2C0a1b2c3d4,2024-03-05 00:00:00,txn_1OcKEfEZvKYlo2C0kLmNoPqR,\
2024-03-03 12:30:00,2024-03-03 13:30:00,2024-03-05 00:00:00,usd,120.00,3.78,116.22,charge,\
ch_1OcKEfEZvKYlo2C0legacy01,Legacy charge,120.00,usd,,,,,ch_1OcKEfEZvKYlo2C0legacy01,,,
po_1OcK2dEZvKYlo2C0a1b2c3d4,2024-03-05 00:00:00,txn_1OcKGhEZvKYlo2C0sTuVwXyZ,\
2024-03-04 00:00:00,2024-03-04 01:00:00,2024-03-05 00:00:00,usd,-19.00,0.00,-19.00,fee,\
,Radar for Fraud Teams (2024-03-03),,,,,,,,,,

"""


def test_stripe_sample():
    rows = read(STRIPE_SAMPLE, "stripe_csv")
    assert rows == [
        StatementRow(
            2,
            "pi_3OcJ9kEZvKYlo2C01xYzAbCd",
            D("250.00"),
            "USD",
            date(2024, 3, 1),
            "Deposit, wallet 10042",
            "charge",
            "",
            fee=D("7.55"),  # what Stripe kept of the gross: booked as a fee by day
        ),
        StatementRow(
            3,
            "re_3OcKAbEZvKYlo2C00nOpQrSt",
            D("-50.00"),
            "USD",
            date(2024, 3, 2),
            "REFUND FOR PAYMENT",
            "refund",
            "pi_3OcJ9kEZvKYlo2C01xYzAbCd",
        ),
        StatementRow(
            4,
            "dp_1OcKCdEZvKYlo2C0cDeFgHiJ",
            D("-250.00"),
            "USD",
            date(2024, 3, 3),
            "Chargeback withdrawal for ch_3OcJ9kEZvKYlo2C01xYzAbCd",
            "dispute",
            "pi_3OcJ9kEZvKYlo2C01xYzAbCd",
            fee=D("15.00"),
        ),
        StatementRow(
            5,
            "ch_1OcKEfEZvKYlo2C0legacy01",
            D("120.00"),
            "USD",
            date(2024, 3, 3),
            "Legacy charge",
            "charge",
            "",
            fee=D("3.78"),
        ),
        StatementRow(
            6,
            "",
            D("-19.00"),
            "USD",
            date(2024, 3, 4),
            "Radar for Fraud Teams (2024-03-03)",
            "fee",
            "",
        ),
    ]


CAMT_SAMPLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>053D2024031506123100001</MsgId>
      <CreDtTm>2024-03-15T06:12:31.000+01:00</CreDtTm>
      <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>
    </GrpHdr>
    <Stmt>
      <Id>0352024031500001</Id>
      <ElctrncSeqNb>52</ElctrncSeqNb>
      <CreDtTm>2024-03-15T06:12:31.000+01:00</CreDtTm>
      <Acct>
        <Id><IBAN>DE02120300000000202051</IBAN></Id>
        <Ccy>EUR</Ccy>
        <Ownr><Nm>Example Brokerage Ltd</Nm></Ownr>
        <Svcr><FinInstnId><BICFI>BYLADEM1001</BICFI></FinInstnId></Svcr>
      </Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">12500.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-03-14</Dt></Dt>
      </Bal>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">13245.60</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-03-15</Dt></Dt>
      </Bal>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">1000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2024-03-15</Dt></BookgDt>
        <ValDt><Dt>2024-03-15</Dt></ValDt>
        <AcctSvcrRef>2024031500001</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>
        </BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <EndToEndId>E2E-DEP-10042</EndToEndId>
            </Refs>
            <Amt Ccy="EUR">1000.00</Amt>
            <RltdPties><Dbtr><Pty><Nm>Nora Ng</Nm></Pty></Dbtr></RltdPties>
            <RmtInf>
              <Ustrd>Deposit client 10042</Ustrd>
            </RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">250.50</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><DtTm>2024-03-15T10:21:00+01:00</DtTm></BookgDt>
        <ValDt><Dt>2024-03-15</Dt></ValDt>
        <AcctSvcrRef>2024031500002</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Refs>
              <AcctSvcrRef>TX-WD-77</AcctSvcrRef>
              <EndToEndId>NOTPROVIDED</EndToEndId>
            </Refs>
            <RmtInf><Ustrd>Withdrawal 77</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
        <AddtlNtryInf>SEPA Credit Transfer</AddtlNtryInf>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">3.90</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2024-03-15</Dt></BookgDt>
        <ValDt><Dt>2024-03-15</Dt></ValDt>
        <AcctSvcrRef>2024031500003</AcctSvcrRef>
        <BkTxCd><Domn><Cd>ACMT</Cd><Fmly><Cd>MDOP</Cd><SubFmlyCd>CHRG</SubFmlyCd></Fmly></Domn>
        </BkTxCd>
        <AddtlNtryInf>Kontoführung März</AddtlNtryInf>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">99.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>PDNG</Cd></Sts>
        <ValDt><Dt>2024-03-18</Dt></ValDt>
        <AcctSvcrRef>2024031500004</AcctSvcrRef>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def test_camt053_sample():
    rows = read(CAMT_SAMPLE, "camt053")
    assert rows == [
        StatementRow(
            1,
            "E2E-DEP-10042",
            D("1000.00"),
            "EUR",
            date(2024, 3, 15),
            "Deposit client 10042",
            "transfer",
            counterparty_name="Nora Ng",
            remittance="Deposit client 10042",
            end_to_end_id="E2E-DEP-10042",
        ),
        StatementRow(
            2,
            "TX-WD-77",
            D("-250.50"),
            "EUR",
            date(2024, 3, 15),
            "SEPA Credit Transfer",
            "transfer",
            remittance="Withdrawal 77",
        ),
        StatementRow(
            3, "2024031500003", D("-3.90"), "EUR", date(2024, 3, 15), "Kontoführung März", "fee"
        ),
    ]  # the pending (PDNG) entry is not booked money
    header = read_camt053_header(io.BytesIO(CAMT_SAMPLE))
    assert (header.account, header.opening_balance, header.closing_balance, header.sequence) == (
        "DE02120300000000202051",
        D("12500.00"),
        D("13245.60"),
        "52",
    )


def test_camt053_with_prefixed_elements():
    data = (
        b'<?xml version="1.0"?>'
        b'<c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04">'
        b"<c:BkToCstmrStmt><c:Stmt><c:Id>1</c:Id><c:Ntry><c:Amt Ccy='GBP'>5</c:Amt>"
        b"<c:CdtDbtInd>CRDT</c:CdtDbtInd><c:ValDt><c:Dt>2024-01-02</c:Dt></c:ValDt>"
        b"<c:NtryDtls><c:TxDtls><c:RmtInf><c:Ustrd>INV 1</c:Ustrd><c:Ustrd>and 2</c:Ustrd>"
        b"</c:RmtInf></c:TxDtls></c:NtryDtls></c:Ntry></c:Stmt></c:BkToCstmrStmt></c:Document>"
    )
    assert read(data, "camt053") == [
        StatementRow(
            1,
            "INV 1 and 2",
            D(5),
            "GBP",
            date(2024, 1, 2),
            "INV 1 and 2",
            "transfer",
            remittance="INV 1 and 2",
        )
    ]


MT940_SAMPLE = b"""\
{1:F01BYLADEM1AXXX0000000000}{2:O9400612240315BYLADEM1AXXX00000000002403150612N}{4:
:20:STARTUMSE
:25:10020030/1234567890
:28C:00042/001
:60F:C240314EUR12500,00
:61:2403150315CR1000,00NTRFNONREF//POS 0001
/OCMT/EUR1000,00/
:86:166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-DEP-10042?21SVWZ+Depos
it client 10042?30BYLADEM1001?31DE02120300000000202051?32NORA NG
:61:2403150315DR250,50NTRFWD-77//POS 0002
:86:177?00SEPA-UEBERWEISUNG?109310?20EREF+NOTPROVIDED?21SVWZ+Withd
rawal 77?32NORA NG
:61:240315D3,90NCHGNONREF//BANKFEE0315
:86:805?00ENTGELT?20Kontofuehrung?21Maerz 2024
:62F:C240315EUR13245,60
-}{5:{CHK:0123456789AB}}
{1:F01BYLADEM1AXXX0000000000}{2:O9400612240316BYLADEM1AXXX00000000002403160612N}{4:
:20:STARTUMSE
:25:10020030/1234567890
:28C:00043/001
:60F:C240315EUR13245,60
:61:2403160316C500,NTRFNONREF
:86:/EREF/INV-2024-0042//CNTP/NL91ABNA0417164300/ABNANL2A/J DOE///REMI/
USTD//Deposit 42/
:62F:C240316EUR13745,60
-}
"""


def test_mt940_sample():
    rows = read(MT940_SAMPLE, "mt940")
    assert rows == [
        StatementRow(
            6,
            "E2E-DEP-10042",
            D("1000.00"),
            "EUR",
            date(2024, 3, 15),
            "Deposit client 10042",
            "transfer",
            counterparty_name="NORA NG",
            counterparty_iban="DE02120300000000202051",
            remittance="Deposit client 10042",
            end_to_end_id="E2E-DEP-10042",
        ),
        StatementRow(
            10,
            "WD-77",
            D("-250.50"),
            "EUR",
            date(2024, 3, 15),
            "Withdrawal 77",
            "transfer",
            counterparty_name="NORA NG",
            remittance="Withdrawal 77",
        ),
        StatementRow(
            13,
            "BANKFEE0315",
            D("-3.90"),
            "EUR",
            date(2024, 3, 15),
            "Kontofuehrung Maerz 2024",
            "fee",
            remittance="Kontofuehrung Maerz 2024",
        ),
        StatementRow(
            22,
            "INV-2024-0042",
            D("500"),
            "EUR",
            date(2024, 3, 16),
            "Deposit 42",
            "transfer",
            counterparty_name="J DOE",
            counterparty_iban="NL91ABNA0417164300",
            remittance="Deposit 42",
            end_to_end_id="INV-2024-0042",
        ),
    ]
    headers = read_statement_headers(io.BytesIO(MT940_SAMPLE), "mt940")
    assert [(h.sequence, h.opening_balance, h.closing_balance) for h in headers] == [
        ("00042/001", D("12500.00"), D("13245.60")),
        ("00043/001", D("13245.60"), D("13745.60")),
    ]


def test_mt940_reversal_marks_and_year_boundary():
    data = b"""\
:20:X
:25:ACC
:60F:D231231EUR10,00
:61:2312310102RD10,00NTRFREV-1
:61:231231RC4,00NTRFREV-2
:86:Free text with EREF+E2E-9 inside
:62F:D240102EUR4,00
-
"""
    rows = read(data, "mt940")
    assert [(r.reference, r.amount, r.booked_on) for r in rows] == [
        ("REV-1", D("10.00"), date(2024, 1, 2)),  # RD: reversal of a debit is money in
        ("REV-2", D("-4.00"), date(2023, 12, 31)),  # RC: reversal of a credit is money out
    ]
    assert rows[1].description == "Free text with EREF+E2E-9 inside"


def test_mt940_customer_reference_cut_to_16_is_replaced_by_the_full_eref():
    data = b"""\
:20:X
:25:ACC
:60F:C240301EUR0,00
:61:2403010301C5,00NTRFE2E-DEPOSIT-1004//B1
:86:166?00SEPA-GUTSCHRIFT?20EREF+E2E-DEPOSIT-10042-XYZ?21SVWZ+Deposit
:62F:C240301EUR5,00
-
"""
    (only,) = read(data, "mt940")
    assert only.reference == "E2E-DEPOSIT-10042-XYZ"


@pytest.mark.parametrize(
    "fmt, data",
    [("stripe_csv", STRIPE_SAMPLE), ("camt053", CAMT_SAMPLE), ("mt940", MT940_SAMPLE)],
)
def test_a_utf8_bom_is_ignored(fmt, data):
    assert detect_format(b"\xef\xbb\xbf" + data) == fmt
    assert read(b"\xef\xbb\xbf" + data, fmt) == read(data, fmt)


GERMAN_BANK_CSV = """\ufeffBuchungstag;Valuta;Verwendungszweck;Referenz;Soll;Haben;Währung
15.03.2024;15.03.2024;"Einzahlung; Kunde 10042";E2E-DEP-10042;;1.000,00;EUR
15.03.2024;15.03.2024;Auszahlung 77;WD-77;-250,50;;EUR
15.03.2024;15.03.2024;Kontoführung;;3,90;;eur
16.03.2024;16.03.2024;Sammelgutschrift;E2E-BATCH-1;;12.345.678,90;EUR

;;;;;;
""".encode()


def test_generic_csv_german_bank_export():
    mapping = ColumnMapping(
        reference="Referenz",
        amount="Haben",
        debit_column="Soll",
        currency="Währung",
        date="Buchungstag",
        description="Verwendungszweck",
        date_format="%d.%m.%Y",
        decimal_comma=True,
    )
    assert read(GERMAN_BANK_CSV, "csv", mapping=mapping) == [
        StatementRow(
            2, "E2E-DEP-10042", D("1000.00"), "EUR", date(2024, 3, 15), "Einzahlung; Kunde 10042"
        ),
        StatementRow(3, "WD-77", D("-250.50"), "EUR", date(2024, 3, 15), "Auszahlung 77"),
        StatementRow(4, "", D("-3.90"), "EUR", date(2024, 3, 15), "Kontoführung"),
        StatementRow(
            5, "E2E-BATCH-1", D("12345678.90"), "EUR", date(2024, 3, 16), "Sammelgutschrift"
        ),
    ]


def test_generic_csv_english_export_with_suggested_mapping_and_cp1252():
    data = (
        "Date,Transaction ID,Details,Amount,Currency\r\n"
        '03/15/2024,TX-1,"Deposit, client 1","1,234.50",GBP\r\n'
        "03/16/2024,TX-2,Café refund,(25.00),GBP\r\n"
        "03/17/2024,TX-3,Payout,-10,gbp\r\n"
    ).encode("cp1252")
    header = ["Date", "Transaction ID", "Details", "Amount", "Currency"]
    mapping = suggest_mapping(header)
    assert mapping == ColumnMapping(
        reference="Transaction ID",
        amount="Amount",
        currency="Currency",
        date="Date",
        description="Details",
    )
    mapping = replace(mapping, date_format="%m/%d/%Y", encoding="cp1252")
    assert [
        (r.reference, r.amount, r.currency, r.booked_on, r.description)
        for r in read(data, "csv", mapping=mapping)
    ] == [
        ("TX-1", D("1234.50"), "GBP", date(2024, 3, 15), "Deposit, client 1"),
        ("TX-2", D("-25.00"), "GBP", date(2024, 3, 16), "Café refund"),
        ("TX-3", D("-10"), "GBP", date(2024, 3, 17), "Payout"),
    ]
    # Read as UTF-8 (the default), the cp1252 byte is refused with its line.
    fails(
        data,
        "csv",
        "malformed_row",
        "line 3",
        "not valid utf-8",
        mapping=replace(mapping, encoding="utf-8"),
    )


def test_generic_csv_default_currency_and_sniffed_tabs():
    data = b"ref\tvalue\tbooked\nA\t10.5\t2024-02-29\nB\t-1\t2024-03-01\n"
    mapping = ColumnMapping(
        reference="ref", amount="value", currency=None, date="booked", default_currency="chf"
    )
    rows = read(data, "csv", mapping=mapping)
    assert [(r.reference, r.amount, r.currency) for r in rows] == [
        ("A", D("10.5"), "CHF"),
        ("B", D(-1), "CHF"),
    ]


def test_suggest_mapping():
    assert suggest_mapping(["Booking Date", "Reference", "Credit", "Debit", "Ccy"]) == (
        ColumnMapping(
            reference="Reference",
            amount="Credit",
            debit_column="Debit",
            currency="Ccy",
            date="Booking Date",
        )
    )
    assert suggest_mapping(["created_utc", "payment_id", "gross", "currency"]).reference == (
        "payment_id"
    )
    assert suggest_mapping(["foo", "bar"]) is None
    assert suggest_mapping(["date", "amount"]) is None  # no reference


def test_column_mapping_json():
    mapping = replace(GENERIC, decimal_comma=True, delimiter=";", date_format="%d.%m.%Y")
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping
    with pytest.raises(StatementError) as info:
        ColumnMapping.from_dict({**mapping.to_dict(), "colour": "red"})
    assert info.value.code == "bad_mapping" and "colour" in info.value.message
    with pytest.raises(StatementError, match="currency column or a default currency"):
        ColumnMapping.from_dict({"reference": "r", "amount": "a", "date": "d"})
    with pytest.raises(StatementError, match="not an ISO 4217"):
        ColumnMapping.from_dict(
            {
                "reference": "r",
                "amount": "a",
                "date": "d",
                "currency": None,
                "default_currency": "EURO",
            }
        )


# --- bad input -----------------------------------------------------------------------------------

CSV_OK = b"date,reference,amount,currency\n2024-03-15,R1,10.00,EUR\n"
PLAIN = replace(GENERIC, description=None, category=None)
MT940_OK = writers.write_mt940([row("R1", "1")], account="A", currency="EUR", opening_balance=D(0))
CAMT_OK = writers.write_camt053(
    [row("R1", "1")], account_iban=IBAN, currency="EUR", opening_balance=D(0)
)
STRIPE_OK = writers.write_stripe_itemized_csv([row("pi_1", "1", category="charge")])


@pytest.mark.parametrize(
    "data, fmt, fragment",
    [
        (CSV_OK, "camt053", "looks like CSV"),
        (MT940_OK, "camt053", "is SWIFT MT940"),
        (CAMT_OK, "mt940", "is ISO 20022 camt.053"),
        (CSV_OK, "mt940", "looks like CSV"),
        (MT940_OK, "stripe_csv", "is SWIFT MT940"),
        (CAMT_OK, "stripe_csv", "is ISO 20022 camt.053"),
        (CAMT_OK, "csv", "camt.053"),
        (STRIPE_OK, "mt940", "is Stripe"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "csv", "not text"),
        (
            b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
            b'pain.001.001.03"><CstmrCdtTrfInitn/></Document>',
            "camt053",
            "pain.001",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>',
            "camt053",
            "camt.052",
        ),
    ],
)
def test_wrong_format_declared(data, fmt, fragment):
    fails(data, fmt, "wrong_format", fragment, mapping=GENERIC if fmt == "csv" else None)


def test_camt_namespace_in_a_comment_is_not_enough():
    data = (
        b"<!-- urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 -->"
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"/>'
    )
    fails(data, "camt053", "wrong_format", "camt.054")


def test_missing_columns_are_named():
    data = b"balance_transaction_id,created_utc,reporting_category,source_id,net\n"
    fails(data, "stripe_csv", "wrong_format", "gross, currency")
    data = b"Date;Ref;Betrag\n15.03.2024;A;1,00\n"
    error = fails(
        data,
        "csv",
        "wrong_format",
        "Amount, Currency",
        "Date, Ref, Betrag",
        mapping=ColumnMapping(reference="ref", amount="Amount", currency="Currency", date="date"),
    )
    assert "ref" not in error.message.split("columns")[1].split("(")[0].lower()


@pytest.mark.parametrize(
    "fmt, data, mapping, fragments",
    [
        (
            "csv",
            CSV_OK + b"2024-03-16,R2,abc,EUR\n",
            PLAIN,
            ("line 3: amount 'abc' is not a number",),
        ),
        ("csv", CSV_OK + b"2024-03-16,R2,NaN,EUR\n", PLAIN, ("line 3", "not a finite number")),
        ("csv", CSV_OK + b"2024-03-16,R2,-Infinity,EUR\n", PLAIN, ("not a finite number",)),
        ("csv", CSV_OK + b"2024-03-16,R2,1e5,EUR\n", PLAIN, ("'1e5' is not a number",)),
        (
            "csv",
            CSV_OK + "2024-03-16,R2,١٢٣,EUR\n".encode(),
            PLAIN,
            ("'١٢٣' is not a number",),
        ),
        (
            "csv",
            CSV_OK + b"2024-03-16,R2,1234567890123456,EUR\n",
            PLAIN,
            ("more than 15 integer digits",),
        ),
        (
            "csv",
            CSV_OK + b"2024-03-16,R2,1.234,EUR\n",
            PLAIN,
            ("line 3", "more decimal places than EUR allows (2)"),
        ),
        ("csv", CSV_OK + b"2024-03-16,R2,10.5,JPY\n", PLAIN, ("JPY allows (0)",)),
        (
            "csv",
            CSV_OK + b"2024-03-16,R2,1,XYZ\n",
            PLAIN,
            ("line 3: currency 'XYZ' is not an ISO 4217 currency code",),
        ),
        ("csv", CSV_OK + b"2024-03-16,R2,1,EURO\n", PLAIN, ("'EURO' is not an ISO 4217",)),
        ("csv", CSV_OK + b"2024-03-16,R2,1,\n", PLAIN, ("line 3: the currency is empty",)),
        (
            "csv",
            CSV_OK + b"2024-02-30,R2,1,EUR\n",
            PLAIN,
            ("line 3: date '2024-02-30' is not a valid date in the format YYYY-MM-DD",),
        ),
        ("csv", CSV_OK + b"15/03/2024,R2,1,EUR\n", PLAIN, ("date '15/03/2024'",)),
        ("csv", CSV_OK + b"2024-3-16,R2,1,EUR\n", PLAIN, ("date '2024-3-16'",)),
        (
            "csv",
            b"d;r;a;c\n15.03.24;R;1;EUR\n",
            ColumnMapping(
                reference="r", amount="a", currency="c", date="d", date_format="%d.%m.%Y"
            ),
            ("line 2", "not a valid date in the format DD.MM.YYYY"),
        ),
        ("csv", CSV_OK + b"2024-03-16,R2\n", PLAIN, ("line 3: expected 4 columns, found 2",)),
        ("csv", CSV_OK + b'2024-03-16,"R2,1,EUR\n', PLAIN, ("malformed",)),
        (
            "stripe_csv",
            STRIPE_OK.replace(b",1.00,", b",one,", 1),
            None,
            ("line 2: gross 'one' is not a number",),
        ),
        ("stripe_csv", STRIPE_OK.replace(b",eur,", b",xxx,", 1), None, ("line 2: currency 'xxx'",)),
        (
            "stripe_csv",
            STRIPE_OK.replace(b"2024-03-15 ", b"2024-13-15 ", 2),
            None,
            ("line 2: created '2024-13-15'",),
        ),
        (
            "stripe_csv",
            STRIPE_OK.replace(b"2024-03-15 ", b"15.03.2024 ", 2),
            None,
            ("line 2: created '15.03.2024",),
        ),
    ],
)
def test_malformed_rows(fmt, data, mapping, fragments):
    fails(data, fmt, "malformed_row", *fragments, mapping=mapping)


def test_camt053_malformed_entries():
    good = CAMT_OK.decode()
    amount = '<Ntry><Amt Ccy="EUR">1</Amt>'
    assert amount in good
    cases = [
        (
            good.replace(amount, '<Ntry><Amt Ccy="EUR">1,00</Amt>'),
            "entry 1: amount '1,00' is not a number",
        ),
        (
            good.replace(amount, '<Ntry><Amt Ccy="EUR">NaN</Amt>'),
            "amount 'NaN' is not a finite number",
        ),
        (good.replace(amount, '<Ntry><Amt Ccy="EUR">-1</Amt>'), "amount '-1' is not a number"),
        (good.replace(amount, '<Ntry><Amt Ccy="EUX">1</Amt>'), "currency 'EUX'"),
        (good.replace(amount, "<Ntry><Amt>1</Amt>"), "no Ccy attribute"),
        (
            good.replace("<BookgDt><Dt>2024-03-15", "<BookgDt><Dt>2024-02-31", 1),
            "date '2024-02-31' is not a valid date",
        ),
        (
            good.replace("<CdtDbtInd>CRDT</CdtDbtInd><Sts>", "<CdtDbtInd>CR</CdtDbtInd><Sts>", 1),
            "CdtDbtInd 'CR'",
        ),
        (good.replace("<Amt ", "<Amount ").replace("</Amt>", "</Amount>"), "no <Amt>"),
    ]
    for data, fragment in cases:
        error = fails(data.encode(), "camt053", "malformed_row", fragment)
        assert error.line_no is not None


def test_camt053_balance_mismatch():
    data = CAMT_OK.replace(b'<Amt Ccy="EUR">1.00</Amt>', b'<Amt Ccy="EUR">1.10</Amt>')
    assert data != CAMT_OK
    fails(data, "camt053", "balance_mismatch", "does not add up", "closing balance is 1.10")


def test_camt053_truncated():
    big = writers.write_camt053(
        [row(f"R{i}", "1") for i in range(50)],
        account_iban=IBAN,
        currency="EUR",
        opening_balance=D(0),
    )
    for cut in (len(big) // 2, len(big) - 30, len(big) - 3):
        fails(big[:cut], "camt053", "truncated", "truncated")
    fails(big.replace(b"<Ntry>", b"<Ntry><Bad>", 1), "camt053", "malformed_row", "mismatched tag")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Ntry><AddtlNtryInf>&lol9;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE], ids=["billion_laughs", "xxe"])
def test_camt053_doctype_and_entities_refused_quickly(data):
    started = time.perf_counter()
    fails(data, "camt053", "unsafe_xml", "line 2", "DOCTYPE")
    with pytest.raises(StatementError):
        read_statement_headers(io.BytesIO(data), "camt053")
    assert time.perf_counter() - started < 1


def test_camt053_undeclared_entity_is_malformed():
    data = CAMT_OK.replace(b"<Id>STMT-1</Id>", b"<Id>&xxe;</Id>")
    fails(data, "camt053", "malformed_row", "undefined entity")


def test_mt940_closing_balance_must_add_up():
    data = MT940_OK.replace(b":62F:C240315EUR1,00", b":62F:C240315EUR2,00")
    assert data != MT940_OK
    fails(
        data,
        "mt940",
        "balance_mismatch",
        "line 8",
        "opening balance 0.00 + lines 1.00 = 1.00",
        ":62F: is 2.00",
    )


def test_mt940_truncated_and_malformed():
    two = writers.write_mt940(
        [row("A", "1"), row("B", "2")], account="A", currency="EUR", opening_balance=D(0)
    )
    cut = two[: two.index(b":62F:")]
    fails(cut, "mt940", "truncated", "no closing balance :62F:")
    fails(b"garbage\r\n" + two, "mt940", "malformed_row", "line 1", "outside any MT940 field")
    fails(
        two.replace(b"C1,00NTRF", b"CABCNTRF", 1),
        "mt940",
        "malformed_row",
        "line 5",
        "not a statement line",
    )
    fails(  # a 13th month: no date can be taken (30 February can: test_statement_banks)
        two.replace(b":61:240315", b":61:241330", 1),
        "mt940",
        "malformed_row",
        "'2413300315' is not a valid YYMMDD[MMDD]",
    )
    fails(
        two.replace(b"C2,00NTRF", b"C2,0,0NTRF", 1),
        "mt940",
        "malformed_row",
        "amount '2,0,0' is not a SWIFT amount",
    )
    fails(two.replace(b"EUR0,00", b"EUX0,00"), "mt940", "malformed_row", "currency 'EUX'")
    fails(two.replace(b":60F:", b":60X:"), "mt940", "malformed_row", ":61: comes before")


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n"])
def test_empty_file(fmt, data):
    fails(data, fmt, "empty_file", "empty", mapping=GENERIC if fmt == "csv" else None)


def test_arguments_checked_before_reading():
    with pytest.raises(StatementError) as info:
        read_statement(io.BytesIO(CSV_OK), "xlsx")
    assert info.value.code == "unknown_format"
    with pytest.raises(StatementError) as info:
        read_statement(io.BytesIO(CSV_OK), "csv")
    assert info.value.code == "mapping_required"
    with pytest.raises(StatementError) as info:
        read_statement(io.BytesIO(CSV_OK), "csv", mapping=replace(GENERIC, currency=None))
    assert info.value.code == "bad_mapping"


def test_statement_error_is_invalid_input():
    error = fails(CSV_OK + b"2024-03-16,R2,abc,EUR\n", "csv", "malformed_row", mapping=PLAIN)
    assert isinstance(error, InvalidInput)
    assert error.status == 400 and error.line_no == 3
    assert error.as_dict()["error"] == "malformed_row"


# --- format detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, expected",
    [
        (STRIPE_SAMPLE, "stripe_csv"),
        (STRIPE_OK, "stripe_csv"),
        (CAMT_SAMPLE, "camt053"),
        (CAMT_OK, "camt053"),
        (MT940_SAMPLE, "mt940"),
        (MT940_OK, "mt940"),
        (GERMAN_BANK_CSV, "csv"),
        (CSV_OK, "csv"),
        (b"\xef\xbb\xbf" + CSV_OK, "csv"),
        (b"", None),
        (b"%PDF-1.4\n", None),
        (b"PK\x03\x04\x14\x00", None),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"/>', None),
    ],
)
def test_detect_format(head, expected):
    assert detect_format(head[:4096]) == expected


# --- properties ----------------------------------------------------------------------------------

CURRENCIES = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KWD": 3, "CHF": 2}
text_chars = st.characters(blacklist_categories=("Cs", "Cc", "Cn"))
clean_text = st.text(text_chars, max_size=60).map(str.strip)


@st.composite
def statement_rows(draw, *, currency=None, categories=("transfer",), max_size=20):
    currency = currency or draw(st.sampled_from(sorted(CURRENCIES)))
    places = CURRENCIES[currency]
    count = draw(st.integers(0, max_size))
    rows = []
    for _ in range(count):
        units = draw(st.integers(-(10**13), 10**13))
        rows.append(
            StatementRow(
                0,
                draw(
                    st.text(text_chars, min_size=1, max_size=35)
                    .map(str.strip)
                    .filter(bool)
                    # The formats' own "no reference" marker is never a reference.
                    .filter(lambda s: s.upper() != "NOTPROVIDED")
                ),
                Decimal(units).scaleb(-places),
                currency,
                draw(st.dates(date(1970, 1, 1), date(2100, 12, 31))),
                draw(clean_text),
                draw(st.sampled_from(categories)),
            )
        )
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=statement_rows(categories=("charge", "refund", "fee", "")),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    decimal_comma=st.booleans(),
)
def test_property_generic_csv_round_trip(rows, delimiter, decimal_comma):
    data = writers.write_generic_csv(rows, delimiter=delimiter, decimal_comma=decimal_comma)
    mapping = replace(GENERIC, decimal_comma=decimal_comma, delimiter=delimiter)
    assert content(read(data, "csv", mapping=mapping)) == content(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=statement_rows(categories=("transfer", "fee")),
    opening=st.integers(-(10**12), 10**12),
)
def test_property_camt053_round_trip(rows, opening):
    currency = rows[0].currency if rows else "EUR"
    opening_balance = Decimal(opening).scaleb(-CURRENCIES[currency])
    data = writers.write_camt053(
        rows, account_iban=IBAN, currency=currency, opening_balance=opening_balance
    )
    assert content(read(data, "camt053")) == content(rows)
    header = read_camt053_header(io.BytesIO(data))
    assert header.closing_balance == opening_balance + sum(r.amount for r in rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=statement_rows(categories=("charge", "refund", "dispute", "payout", "fee")))
def test_property_stripe_round_trip(rows):
    rows = [
        r if r.category == "charge" else replace(r, payment_reference=f"pi_{i}")
        for i, r in enumerate(rows)
    ]
    assert content(read(writers.write_stripe_itemized_csv(rows), "stripe_csv")) == content(rows)


SAMPLES = {
    "stripe_csv": STRIPE_SAMPLE,
    "camt053": CAMT_SAMPLE,
    "mt940": MT940_SAMPLE,
    "csv": GERMAN_BANK_CSV,
}
GERMAN_MAPPING = ColumnMapping(
    reference="Referenz",
    amount="Haben",
    debit_column="Soll",
    currency="Währung",
    date="Buchungstag",
    description="Verwendungszweck",
    date_format="%d.%m.%Y",
    decimal_comma=True,
)


@st.composite
def mutated(draw, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    [
                        b"\x00",
                        b"\xff",
                        b"<",
                        b"&",
                        b";",
                        b",",
                        b'"',
                        b"\n",
                        b":61:",
                        b"<!DOCTYPE x>",
                        b"NaN",
                        b"-",
                        b"?20",
                        b"//",
                    ]
                )
            )
        else:
            del data[position : position + draw(st.integers(1, 40))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=st.sampled_from(sorted(SAMPLES)))
def test_property_damaged_files_fail_cleanly(data, fmt):
    """Whatever the damage, a reader yields rows or raises StatementError: never another
    exception (which a view would turn into a 500)."""
    damaged = data.draw(mutated(SAMPLES[fmt]))
    try:
        rows = read(damaged, fmt, mapping=GERMAN_MAPPING if fmt == "csv" else None)
    except StatementError as error:
        assert error.message and error.code
    else:
        assert all(isinstance(r.amount, Decimal) and r.amount.is_finite() for r in rows)
