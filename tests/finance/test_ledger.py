"""The ledger's invariants, held by the database whoever writes."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.utils import InternalError, ProgrammingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.ledger import (
    IdempotencyConflict,
    InsufficientFunds,
    Leg,
    clearing_for,
    hold_close,
    hold_place,
    ledger_post,
    ledger_verify,
    lock_accounts,
    system_account,
    wallet_for,
)
from finance.models import Hold, LedgerAccount, LedgerTransaction, Posting
from tests.conftest import make_client_user

D = Decimal


@pytest.fixture
def client_record(db):
    return make_client_user().client


def fund(client, amount="100.00", key="fund-1", currency="USD"):
    wallet, clearing = wallet_for(client, currency), clearing_for("stripe", currency)
    ledger_post(
        kind="deposit",
        idempotency_key=key,
        legs=[Leg(wallet, D(amount)), Leg(clearing, -D(amount))],
        actor="test",
        client=client,
        psp="stripe",
        external_reference="pi_1",
    )
    wallet.refresh_from_db()
    return wallet, clearing


def test_a_deposit_credits_the_wallet_and_the_postings_carry_who_and_why(client_record):
    wallet, clearing = fund(client_record)
    clearing.refresh_from_db()
    assert wallet.balance_amount == D("100.00") and clearing.balance_amount == D("-100.00")
    posting = Posting.objects.get(account=wallet)
    assert (posting.client_id, posting.psp, posting.external_reference, posting.actor_label) == (
        client_record.pk,
        "stripe",
        "pi_1",
        "test",
    )
    assert ledger_verify()[1] is None


def test_the_same_idempotency_key_posts_once_and_a_different_movement_is_refused(client_record):
    wallet, clearing = fund(client_record)
    txn, created = ledger_post(
        kind="deposit",
        idempotency_key="fund-1",
        legs=[Leg(wallet, D("100.00")), Leg(clearing, D("-100.00"))],
        actor="test",
    )
    assert not created and LedgerTransaction.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        ledger_post(
            kind="deposit",
            idempotency_key="fund-1",
            legs=[Leg(wallet, D("5.00")), Leg(clearing, D("-5.00"))],
            actor="test",
        )
    wallet.refresh_from_db()
    assert wallet.balance_amount == D("100.00")


def test_a_wallet_cannot_be_overdrawn_but_a_chargeback_can(client_record):
    wallet, clearing = fund(client_record, "10.00")
    with pytest.raises(InsufficientFunds):
        ledger_post(
            kind="withdrawal",
            idempotency_key="w",
            legs=[Leg(wallet, D("-10.01")), Leg(clearing, D("10.01"))],
            actor="test",
        )
    ledger_post(
        kind="chargeback",
        idempotency_key="cb",
        legs=[Leg(wallet, D("-15.00")), Leg(clearing, D("15.00"))],
        actor="test",
    )
    wallet.refresh_from_db()
    assert wallet.balance_amount == D("-5.00")
    assert ledger_verify()[1] is None


def test_holds_reduce_what_is_available_not_the_balance(client_record):
    wallet, clearing = fund(client_record, "50.00")
    with transaction.atomic():
        lock_accounts([wallet])
        hold = hold_place(account=wallet, amount=D("30.00"), reference="w1")
    wallet.refresh_from_db()
    assert (wallet.balance_amount, wallet.held_amount, wallet.available_amount) == (
        D("50.00"),
        D("30.00"),
        D("20.00"),
    )
    with pytest.raises(InsufficientFunds), transaction.atomic():
        lock_accounts([wallet])
        hold_place(account=wallet, amount=D("20.01"), reference="w2")
    # Held money cannot be spent by another debit either: the database refuses it.
    with pytest.raises(InsufficientFunds):
        ledger_post(
            kind="transfer",
            idempotency_key="t",
            legs=[Leg(wallet, D("-25.00")), Leg(clearing, D("25.00"))],
            actor="test",
        )
    with transaction.atomic():
        lock_accounts([wallet, clearing])
        hold_close(hold=hold, status=Hold.Status.SETTLED)
        ledger_post(
            kind="withdrawal",
            idempotency_key="w1",
            legs=[Leg(wallet, D("-30.00")), Leg(clearing, D("30.00"))],
            actor="test",
        )
    wallet.refresh_from_db()
    assert (wallet.balance_amount, wallet.held_amount) == (D("20.00"), D("0.00"))
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        hold_close(hold=hold, status=Hold.Status.RELEASED)  # a hold closes once


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE finance_posting SET amount = amount + 1",
        "DELETE FROM finance_posting",
        "UPDATE finance_ledgertransaction SET description = 'x'",
        "DELETE FROM finance_ledgertransaction",
        "UPDATE finance_ledgeraccount SET balance_amount = 1000000",
        "UPDATE finance_ledgeraccount SET held_amount = 0.5",
        "DELETE FROM finance_ledgeraccount",
    ],
)
def test_the_database_refuses_edits_to_the_ledger(client_record, sql):
    fund(client_record)
    with (
        pytest.raises((IntegrityError, InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(sql)


def test_an_unbalanced_transaction_is_refused_at_commit(client_record):
    wallet = wallet_for(client_record, "USD")
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO finance_ledgertransaction (kind, idempotency_key, description,"
            " psp, external_reference, actor_label, posted_at)"
            " VALUES ('adjustment', 'raw', '', '', '', 'sql', now()) RETURNING id"
        )
        txn_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO finance_posting (transaction_id, account_id, amount, currency, psp,"
            " external_reference, actor_label, posted_at)"
            " VALUES (%s, %s, 10, 'USD', '', '', 'sql', now())",
            [txn_id, wallet.pk],
        )
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what COMMIT would check


def test_a_transaction_without_postings_and_a_posting_in_the_wrong_currency_are_refused(
    client_record,
):
    wallet = wallet_for(client_record, "USD")
    eur = system_account(LedgerAccount.Kind.SUSPENSE, "EUR")
    with (
        pytest.raises(IntegrityError, match="no postings"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute(
            "INSERT INTO finance_ledgertransaction (kind, idempotency_key, description,"
            " psp, external_reference, actor_label, posted_at)"
            " VALUES ('adjustment', 'empty', '', '', '', 'sql', now())"
        )
    with (
        pytest.raises(IntegrityError, match="held in"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO finance_ledgertransaction (kind, idempotency_key, description,"
            " psp, external_reference, actor_label, posted_at)"
            " VALUES ('adjustment', 'ccy', '', '', '', 'sql', now()) RETURNING id"
        )
        txn_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO finance_posting (transaction_id, account_id, amount, currency, psp,"
            " external_reference, actor_label, posted_at)"
            " VALUES (%s, %s, 10, 'USD', '', '', 'sql', now()),"
            " (%s, %s, -10, 'USD', '', '', 'sql', now())",
            [txn_id, wallet.pk, txn_id, eur.pk],
        )


def test_ledger_verify_names_the_first_discrepancy(client_record):
    wallet, _ = fund(client_record)
    call_command("ledger_verify")
    # Tamper as the table owner would, with the guard switched off for one statement.
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("ALTER TABLE finance_ledgeraccount DISABLE TRIGGER finance_ledgeraccount_guard")
        cur.execute(
            "UPDATE finance_ledgeraccount SET balance_amount = 99 WHERE id = %s", [wallet.pk]
        )
        cur.execute("ALTER TABLE finance_ledgeraccount ENABLE TRIGGER finance_ledgeraccount_guard")
    expected = f"ledger account {wallet.pk}: balance 99.00 but its postings sum to 100.00"
    with pytest.raises(CommandError, match=expected):  # the CLI exits 1 with this message
        call_command("ledger_verify")
    assert ledger_verify()[1] == expected


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_between_the_same_wallets_do_not_deadlock_or_lose_a_cent():
    a = make_client_user("a@test.example").client
    b = make_client_user("b@test.example").client
    wa, _ = fund(a, "1000.00", key="fa")
    wb, _ = fund(b, "1000.00", key="fb")
    errors = []

    def worker(n):
        try:
            for i in range(25):
                src, dst = (wa, wb) if (i + n) % 2 else (wb, wa)
                ledger_post(
                    kind="transfer",
                    idempotency_key=f"t-{n}-{i}",
                    legs=[Leg(src, D("-1.00")), Leg(dst, D("1.00"))],
                    actor="test",
                )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    wa.refresh_from_db()
    wb.refresh_from_db()
    assert wa.balance_amount + wb.balance_amount == D("2000.00")
    assert LedgerTransaction.objects.filter(kind="transfer").count() == 150
    assert ledger_verify()[1] is None


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["in", "out", "hold", "release"]), st.integers(1, 5000)),
        max_size=25,
    )
)
def test_random_movements_keep_every_invariant(client_record, moves):
    wallet = wallet_for(client_record, "EUR")
    clearing = clearing_for("skrill", "EUR")
    for n, (move, cents) in enumerate(moves):
        amount = D(cents) / 100
        key = f"{uuid.uuid4().hex}-{n}"
        try:
            if move in ("in", "out"):
                sign = 1 if move == "in" else -1
                ledger_post(
                    kind="deposit" if move == "in" else "withdrawal",
                    idempotency_key=key,
                    legs=[Leg(wallet, sign * amount), Leg(clearing, -sign * amount)],
                    actor="test",
                )
            elif move == "hold":
                with transaction.atomic():
                    lock_accounts([wallet])
                    hold_place(account=wallet, amount=amount, reference=key)
            else:
                hold = Hold.objects.filter(account=wallet, status="active").first()
                if hold:
                    with transaction.atomic():
                        lock_accounts([wallet])
                        hold_close(hold=hold, status=Hold.Status.RELEASED)
        except InsufficientFunds:
            pass
        wallet.refresh_from_db()
        assert wallet.available_amount >= 0
    assert ledger_verify()[1] is None


def test_postings_cannot_be_added_to_a_transaction_afterwards(client_record):
    wallet, clearing = fund(client_record)
    txn = LedgerTransaction.objects.get()
    with (
        pytest.raises(IntegrityError, match="written once"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO finance_posting (transaction_id, account_id, amount, currency, psp,"
            " external_reference, actor_label, posted_at)"
            " VALUES (%s, %s, 5, 'USD', '', '', 'sql', now()),"
            " (%s, %s, -5, 'USD', '', '', 'sql', now())",
            [txn.pk, wallet.pk, txn.pk, clearing.pk],
        )
