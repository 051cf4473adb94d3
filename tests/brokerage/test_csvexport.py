"""CSV exports cannot carry a formula into a spreadsheet (OWASP's CSV injection advice)."""

import ast
import csv
import io
import pathlib
from decimal import Decimal

import pytest

from brokerage.csvexport import csv_cell, csv_writer

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ["brokerage", "clients", "compliance", "finance", "ib", "kyc", "leads", "demo"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("＝1+1", "'＝1+1"),
        ("-3", "'-3"),  # text that looks like a number is still text
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (Decimal("-12.50"), Decimal("-12.50")),  # numbers stay numbers
        (-7, -7),
        (42, 42),
    ],
)
def test_cells(value, cell):
    assert csv_cell(value) == cell


def test_the_writer_neutralises_every_cell_and_streams():
    out = io.StringIO()
    csv_writer(out).writerow(["=1+1", Decimal("-5.00"), 'say "hi"', "x,=y"])
    assert out.getvalue() == '\'=1+1,-5.00,"say ""hi""","x,=y"\r\n'
    assert csv_writer().writerow(["@a", 1]) == "'@a,1\r\n"


def test_every_export_writes_through_the_helper():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "brokerage/csvexport.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "csv"
                    and node.attr in ("writer", "DictWriter")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "write CSV exports with brokerage.csvexport.csv_writer: " + str(offenders)


def read_csv(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.django_db
def test_the_ledger_postings_export(client):
    from finance.ledger import Leg, clearing_for, ledger_post, wallet_for
    from tests.conftest import login, make_client_user, make_staff

    customer = make_client_user("-2+3@test.example").client
    wallet, clearing = wallet_for(customer, "USD"), clearing_for("stripe", "USD")
    ledger_post(
        kind="deposit",
        idempotency_key="csv-1",
        legs=[Leg(wallet, Decimal("12.50")), Leg(clearing, Decimal("-12.50"))],
        actor="@SUM(1+1)",
        client=customer,
        psp="stripe",
        external_reference="+cmd|' /C calc'!A0",
        description='=HYPERLINK("http://x.example","refund")',
    )
    login(client, make_staff("finance_officer"))
    response = client.get("/backoffice/finance/transactions.csv")
    header, *rows = read_csv(b"".join(response.streaming_content).decode())
    cells = {row[header.index("amount")]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(cells) == {"12.50", "-12.50"}  # the amounts are numbers, the debit unquoted
    credit = cells["12.50"]
    assert credit["description"] == '\'=HYPERLINK("http://x.example","refund")'
    assert credit["external_reference"] == "'+cmd|' /C calc'!A0"
    assert credit["actor"] == "'@SUM(1+1)"
    assert credit["client_email"] == "'-2+3@test.example"
    for row in rows:
        for name, value in zip(header, row, strict=True):
            assert name == "amount" or not value.startswith(("=", "+", "-", "@")), (name, value)
