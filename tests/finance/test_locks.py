"""The one lock order (finance.locks): ledger accounts, then the money objects, then the client.
Checked on the statements the services send, for the paths that take all three."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance.services import chargeback_open, withdrawal_approve, withdrawal_request
from tests.conftest import make_staff
from tests.finance.conftest import deposit_paid, verified_client

FROM = re.compile(r'FROM "?(\w+)"?')


def first_locks(queries) -> list[str]:
    """The tables locked FOR UPDATE, in the order each was first locked."""
    tables = []
    for q in queries:
        if "FOR UPDATE" in q["sql"]:
            table = FROM.search(q["sql"]).group(1)
            if table not in tables:
                tables.append(table)
    return tables


def test_an_approval_locks_accounts_then_the_withdrawal_then_the_client(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "6000.00")
    w = withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    with CaptureQueriesContext(connection) as ctx:
        withdrawal_approve(withdrawal=w, actor=make_staff("finance_officer"), reason="ok")
    assert first_locks(ctx.captured_queries) == [
        "finance_ledgeraccount",
        "finance_withdrawal",
        "clients_client",
    ]


def test_a_chargeback_locks_accounts_the_deposit_the_withdrawals_then_the_client(methods):
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "6000.00")
    withdrawal_request(client=client, amount="3000", currency="USD", psp="stripe", actor="t")
    with CaptureQueriesContext(connection) as ctx:
        chargeback_open(
            deposit=deposit, amount="100", provider_reference="dp_1", reason="fraud", actor="t"
        )
    assert first_locks(ctx.captured_queries) == [
        "finance_ledgeraccount",
        "finance_deposit",
        "finance_withdrawal",
        "clients_client",
    ]


def test_a_request_locks_the_wallet_then_the_client(methods):
    client = verified_client()
    deposit_paid(client, methods["stripe"], "600.00")
    with CaptureQueriesContext(connection) as ctx:
        withdrawal_request(client=client, amount="30", currency="USD", psp="stripe", actor="t")
    locks = first_locks(ctx.captured_queries)
    assert locks[:2] == ["finance_ledgeraccount", "clients_client"]
    # AML monitoring evaluates the request in its transaction: its own rows after the client.
    assert all(table.startswith("aml_") for table in locks[2:]), locks
