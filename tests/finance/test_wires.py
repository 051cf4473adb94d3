"""Bank wires through the services: statements credit clients exactly once, the queue, wire
withdrawals (checks, four eyes, the pain.001 file, settlement, returns) and what clients hear."""

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent
from clients.models import Client, ClientActivity
from clients.payment_reference import (
    format_reference,
    new_client_reference,
    reference_valid,
    references_in,
)
from finance import audit_events
from finance.ledger import ledger_verify, wallet_for
from finance.models import BankEntry, Deposit, WireInstruction, Withdrawal
from finance.services import (
    bank_entry_assign,
    bank_entry_dismiss,
    bank_statement_import,
    wire_batch_create,
    wire_return,
    withdrawal_approve,
    withdrawal_request,
)
from finance.services.wires import match_clients
from sandbox import statements as writers
from tests.conftest import make_staff

from .conftest import deposit_paid, fresh, verified_client

D = Decimal
DATA = Path(__file__).parent / "data" / "wires"
ACCOUNT = "CH5604835012345678009"
TIA_REF, BOB_REF, MT940_REF = "RF48CTIA4WIRE2", "RF22CBOB7WIRE3", "RF63CMT940ABC9"
SCHNEIDER_IBAN = "CH9300762011623852957"
XSD = xmlschema.XMLSchema(str(DATA / "pain.001.001.09.xsd"))

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(db):
    return make_staff("finance_officer")


def named_client(email, first, last, *, ref=None):
    client = verified_client(email)
    client.user.first_name, client.user.last_name = first, last
    client.user.save()
    if ref:
        Client.objects.filter(pk=client.pk).update(payment_reference=ref)
    return Client.objects.select_related("user").get(pk=client.pk)


def upload(path_or_bytes, fmt, actor, name="statement"):
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return bank_statement_import(fmt=fmt, uploaded_file=SimpleUploadedFile(name, data), actor=actor)


def balance(client, currency="EUR"):
    return fresh(wallet_for(client, currency)).balance_amount


def wire_withdrawal(client, amount, *, iban=SCHNEIDER_IBAN, bic="", currency="EUR"):
    return withdrawal_request(
        client=client,
        amount=amount,
        currency=currency,
        psp="bank_wire",
        actor=client.user,
        iban=iban,
        bic=bic,
    )


def funded(client, amount, methods, ref=None):
    """A client whose EUR wallet holds `amount` from a bank wire (no card to pay back)."""
    body = writers.write_camt053(
        [
            _row(
                f"FUND-{client.pk}-{amount}",
                D(amount),
                f"{client.user.get_full_name()}",
                "",
                client.payment_reference,
            )
        ],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(0),
    )
    upload(body, "camt053", _funder())
    assert balance(client) == D(amount)
    return client


def _funder():
    from brokerage.models import User

    found = User.objects.filter(email="funder@t.example").first()
    return found or make_staff("finance_officer", email="funder@t.example")


def _row(reference, amount, name="", iban="", remittance="", booked_on=date(2026, 11, 24)):
    from finance.reconciliation.base import StatementRow

    return StatementRow(
        0,
        reference,
        amount,
        "EUR",
        booked_on,
        description=remittance,
        counterparty_name=name,
        counterparty_iban=iban,
        remittance=remittance,
    )


# --- Payment references ----------------------------------------------------------------------


def test_payment_references_are_iso11649_and_found_however_written():
    ref = new_client_reference()
    assert reference_valid(ref) and len(ref) == 14 and ref.startswith("RF")
    assert reference_valid("RF18 5390 0754 7034")  # ISO 11649's own example
    assert not reference_valid("RF19539007547034")
    written = f"deposit {format_reference(ref).lower().replace(' ', '-')} thanks"
    assert references_in(written) == [ref]
    typo = ref[:-1] + ("2" if ref[-1] != "2" else "3")
    assert references_in(f"deposit {typo}") == []


def test_every_client_and_partner_has_a_unique_reference(methods):
    from tests.conftest import make_partner_user

    a, b = verified_client("a@t.example"), verified_client("b@t.example")
    assert reference_valid(a.payment_reference) and a.payment_reference != b.payment_reference
    partner = make_partner_user().partner
    assert reference_valid(partner.payment_reference) and partner.payment_reference[4] == "P"


# --- The bank's camt.053: matching -----------------------------------------------------------


def test_camt053_credits_by_reference_and_by_name_and_iban_settles_and_queues(
    methods, officer, django_capture_on_commit_callbacks
):
    tia = named_client("tia@t.example", "Tia", "Wire", ref=TIA_REF)
    bob = named_client("bob@t.example", "Bob", "Other", ref=BOB_REF)
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "400.00", methods)
    w = wire_withdrawal(robert, "120.00")
    assert w.status == "approved"  # a wire of a wire-funded wallet passes the checks
    WireInstruction.objects.filter(withdrawal=w).update(end_to_end_id="WTESTWIRE0000001")
    wire_batch_create(withdrawal_ids=[w.pk], actor=officer)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        statement = upload(DATA / "camt053-wires.xml", "camt053", officer)

    assert statement.counts == {
        "entries": 6,
        "added": 6,
        "seen_before": 0,
        "credited": 2,
        "queued": 2,
        "settled": 1,
        "not_client": 1,
    }
    entries = {e.line_no: e for e in BankEntry.objects.filter(statement=statement)}
    assert (entries[1].status, entries[1].client, entries[1].rule) == ("credited", tia, "reference")
    assert (entries[2].client, entries[2].rule) == (robert, "name_iban")  # "SCHNEIDER ROBERT"
    assert (entries[3].status, entries[3].why) == ("queued", "no_match")
    assert (entries[4].why, entries[4].candidates) == ("ambiguous", sorted([tia.pk, bob.pk]))
    assert (entries[5].status, entries[5].withdrawal_id) == ("settled", w.pk)
    assert entries[6].status == "not_client"
    assert balance(tia) == D("500.00") and balance(bob) == 0
    assert balance(robert) == D("400.00") - D("120.00") + D("250.00")
    deposit = entries[1].deposit
    assert (deposit.psp, deposit.status, deposit.amount) == ("bank_wire", "completed", D("500"))
    assert deposit.is_ftd and fresh(tia).first_deposit_at is not None
    # who paid: the account the wire came from, as a bank payment instrument
    sender = fresh(deposit).instrument
    assert sender.kind == "bank" and sender.key == f"iban:{entries[1].counterparty_iban}"
    assert sender.label.startswith(f"Bank account •••• {entries[1].counterparty_iban[-4:]}")
    assert fresh(w).status == "paid" and fresh(w).ledger_transaction is not None
    assert ledger_verify()[1] is None
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(
        [
            "Your deposit of EUR 500.00 is in your wallet",
            "Your deposit of EUR 250.00 is in your wallet",
            f"Your withdrawal {w.reference} was paid",
        ]
    )
    assert ClientActivity.objects.filter(
        client=tia, kind="email", subject__contains="500.00"
    ).exists()


def test_the_same_statement_twice_or_an_overlapping_one_changes_nothing(methods, officer):
    tia = named_client("tia@t.example", "Tia", "Wire", ref=TIA_REF)
    named_client("bob@t.example", "Bob", "Other", ref=BOB_REF)
    upload(DATA / "camt053-wires.xml", "camt053", officer)
    deposits = Deposit.objects.count()
    again = upload(DATA / "camt053-wires.xml", "camt053", officer)
    assert again.counts["added"] == 0 and again.counts["seen_before"] == 6
    assert Deposit.objects.count() == deposits and balance(tia) == D("500.00")
    # A later statement repeating the 500.00 wire (as the bank booked it) and one new wire.
    overlap = writers.write_camt053(
        [
            _row("0758103031481001", D("500.00"), "Tia Wire", "", f"Deposit {TIA_REF}"),
            _row("NEW-1", D("20.00"), "Tia Wire", "", f"Deposit {TIA_REF}"),
        ],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(0),
    )
    third = upload(overlap, "camt053", officer)
    assert (third.counts["added"], third.counts["credited"]) == (1, 1)
    assert balance(tia) == D("520.00") and ledger_verify()[1] is None


def test_mt940_credits_by_a_reference_written_with_spaces_and_settles_by_end_to_end_id(
    methods, officer
):
    tia = named_client("tia@t.example", "Tia", "Wire", ref=MT940_REF)
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "200.00", methods)
    w = wire_withdrawal(robert, "120.00")
    WireInstruction.objects.filter(withdrawal=w).update(end_to_end_id="WTESTMT940000001")
    wire_batch_create(withdrawal_ids=[w.pk], actor=officer)
    statement = upload(DATA / "mt940-wires.sta", "mt940", officer)
    assert (statement.counts["credited"], statement.counts["settled"]) == (1, 1)
    assert statement.counts["queued"] == 1  # J DOE, a gift from no client
    assert balance(tia) == D("300.00") and fresh(w).status == "paid"


def test_a_wire_without_reference_needs_the_clients_name_on_a_known_iban(methods, officer):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "300.00", methods)
    wire_withdrawal(robert, "50.00")  # registers the IBAN
    entry = BankEntry(
        amount=D("10"), currency="EUR", counterparty_iban=SCHNEIDER_IBAN, remittance="top up"
    )
    entry.counterparty_name = "Mrs Anna Schneider"
    assert match_clients(entry) == ([], "")
    entry.counterparty_name = "Schneider, Robert"
    assert match_clients(entry) == ([robert.pk], "name_iban")
    entry.counterparty_iban = "DE89370400440532013000"
    assert match_clients(entry) == ([], "")


def test_a_client_who_may_not_deposit_waits_in_the_queue(methods, officer):
    tia = named_client("tia@t.example", "Tia", "Wire", ref=TIA_REF)
    Client.objects.filter(pk=tia.pk).update(aml_case_open=True)
    statement = upload(DATA / "camt053-wires.xml", "camt053", officer)
    entry = BankEntry.objects.get(statement=statement, line_no=1)
    assert (entry.status, entry.why, entry.candidates) == ("queued", "refused", [tia.pk])
    assert entry.why_detail and balance(tia) == 0
    assert not Deposit.objects.filter(client=tia).exists()


# --- The queue -------------------------------------------------------------------------------


def test_finance_assigns_or_dismisses_a_queued_wire_with_a_reason_audited(methods, officer):
    statement = upload(DATA / "camt053-wires.xml", "camt053", officer)
    unknown = BankEntry.objects.get(statement=statement, line_no=3)
    ambiguous = BankEntry.objects.get(statement=statement, line_no=4)
    payer = named_client("payer@t.example", "Unknown", "Payer")
    for outsider in (make_staff("compliance_officer"), make_staff("sales_agent")):
        with pytest.raises(NotAllowed):
            bank_entry_assign(entry=unknown, client=payer, reason="Phoned us", actor=outsider)
        with pytest.raises(NotAllowed):
            bank_entry_dismiss(entry=unknown, reason="Not ours at all", actor=outsider)
    with pytest.raises(InvalidInput):
        bank_entry_assign(entry=unknown, client=payer, reason="", actor=officer)

    entry = bank_entry_assign(
        entry=unknown, client=payer, reason="Payer's company, confirmed by phone", actor=officer
    )
    assert (entry.status, entry.client, entry.rule, entry.decided_by) == (
        "assigned",
        payer,
        "manual",
        officer,
    )
    assert balance(payer) == D("75.00") and entry.deposit.psp == "bank_wire"
    event = AuditEvent.objects.get(action=audit_events.BANK_ENTRY_ASSIGNED)
    assert event.reason == "Payer's company, confirmed by phone" and event.actor == officer
    with pytest.raises(InvalidInput):  # once
        bank_entry_assign(entry=unknown, client=payer, reason="Again, by mistake", actor=officer)

    dismissed = bank_entry_dismiss(entry=ambiguous, reason="Sent back to the payer", actor=officer)
    assert dismissed.status == "dismissed"
    assert AuditEvent.objects.filter(
        action=audit_events.BANK_ENTRY_DISMISSED, reason="Sent back to the payer"
    ).exists()
    assert ledger_verify()[1] is None


# --- Wire withdrawals ------------------------------------------------------------------------


def test_a_wire_goes_to_a_valid_iban_in_the_clients_own_name(methods, officer):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "300.00", methods)
    for iban, code in (
        ("CH9300762011623852958", "bad check digits"),
        ("XX9300762011623852957", "country"),
        ("CH93007620116238529", "length"),
    ):
        with pytest.raises(InvalidInput) as err:
            wire_withdrawal(robert, "10.00", iban=iban)
        assert "iban" in err.value.fields, code
    with pytest.raises(InvalidInput) as err:
        wire_withdrawal(robert, "10.00", bic="NOTABIC")
    assert "bic" in err.value.fields
    w = wire_withdrawal(robert, "10.00", iban="ch93 0076 2011 6238 5295 7", bic="ubswchzh80a")
    assert (w.wire.iban, w.wire.bic, w.wire.beneficiary_name) == (
        SCHNEIDER_IBAN,
        "UBSWCHZH80A",
        "Robert Schneider",
    )
    assert w.wire.end_to_end_id == w.reference and w.funding_deposit is None
    assert fresh(wallet_for(robert, "EUR")).held_amount == D("10.00")


def test_card_money_goes_back_to_the_card_before_a_wire(methods, officer):
    client = named_client("card@t.example", "Carla", "Card")
    deposit_paid(client, methods["skrill"], "100.00")
    w = wire_withdrawal(client, "60.00")
    assert w.status == "in_review"
    assert [r["code"] for r in w.check_reasons] == ["closed_loop"]


def test_a_large_wire_needs_four_eyes_like_every_withdrawal(methods, officer):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "20000.00", methods)
    w = wire_withdrawal(robert, "12000.00")
    assert w.status == "in_review"
    second = make_staff("finance_officer", email="f2@t.example")
    w = withdrawal_approve(withdrawal=w, actor=officer, reason="Source of funds seen")
    assert w.status == "in_review"
    with pytest.raises(NotAllowed):
        withdrawal_approve(withdrawal=w, actor=officer, reason="Me again")
    with pytest.raises(InvalidInput):  # not approved yet: not payable
        wire_batch_create(withdrawal_ids=[w.pk], actor=officer)
    w = withdrawal_approve(withdrawal=w, actor=second, reason="Agreed")
    assert w.status == "approved" and w.payout_attempts == 0  # no PSP payout: a payment file


def test_the_payment_file_is_valid_pain001_and_marks_each_wire_sent_once(
    methods, officer, django_capture_on_commit_callbacks
):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "900.00", methods)
    tia = funded(named_client("tia@t.example", "Tia", "Müller-Wire"), "900.00", methods)
    w1 = wire_withdrawal(robert, "100.00", bic="UBSWCHZH80A")
    w2 = wire_withdrawal(tia, "250.50", iban="DE89370400440532013000")
    mail.outbox.clear()
    with pytest.raises(NotAllowed):
        wire_batch_create(withdrawal_ids=[w1.pk], actor=make_staff("compliance_officer"))

    with django_capture_on_commit_callbacks(execute=True):
        batch = wire_batch_create(withdrawal_ids=[w1.pk, w2.pk], actor=officer)

    XSD.validate(batch.document)
    doc = XSD.to_dict(batch.document)
    header = doc["CstmrCdtTrfInitn"]["GrpHdr"]
    assert (header["NbOfTxs"], header["CtrlSum"]) == ("2", D("350.50"))
    txs = doc["CstmrCdtTrfInitn"]["PmtInf"][0]["CdtTrfTxInf"]
    assert {t["PmtId"]["EndToEndId"] for t in txs} == {w1.reference, w2.reference}
    assert {t["CdtrAcct"]["Id"]["IBAN"] for t in txs} == {SCHNEIDER_IBAN, "DE89370400440532013000"}
    assert "Tia Muller-Wire" in batch.document  # Latin characters banks accept
    for w in (w1, w2):
        w = fresh(w)
        assert w.status == "processing" and w.wire.batch == batch and w.wire.sent_at
    assert batch.totals == {"EUR": "350.50"}
    assert len(mail.outbox) == 2 and all("sent to your bank" in m.subject for m in mail.outbox)
    with pytest.raises(InvalidInput):
        wire_batch_create(withdrawal_ids=[w1.pk], actor=officer)
    assert AuditEvent.objects.filter(action=audit_events.WITHDRAWAL_SENT_TO_BANK).count() == 2


def test_a_debit_without_end_to_end_id_settles_by_amount_and_iban(methods, officer):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "900.00", methods)
    w = wire_withdrawal(robert, "100.00")
    other = wire_withdrawal(robert, "70.00")
    wire_batch_create(withdrawal_ids=[w.pk, other.pk], actor=officer)
    body = writers.write_camt053(
        [_row("", D("-100.00"), "Robert Schneider", SCHNEIDER_IBAN, "payout")],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(1000),
    )
    statement = upload(body, "camt053", officer)
    assert statement.counts["settled"] == 1
    assert fresh(w).status == "paid" and fresh(other).status == "processing"
    assert balance(robert) == D("800.00")


def test_a_returned_wire_gives_the_money_back_through_the_ledger(
    methods, officer, django_capture_on_commit_callbacks
):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "900.00", methods)
    paid, rejected = wire_withdrawal(robert, "100.00"), wire_withdrawal(robert, "40.00")
    wire_batch_create(withdrawal_ids=[paid.pk, rejected.pk], actor=officer)
    body = writers.write_camt053(
        [_row(paid.reference, D("-100.00"), "Robert Schneider", SCHNEIDER_IBAN, "payout")],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(1000),
    )
    upload(body, "camt053", officer)
    assert fresh(paid).status == "paid" and balance(robert) == D("800.00")
    with pytest.raises(NotAllowed):
        wire_return(withdrawal=paid, reason="Account closed", actor=make_staff("sales_agent"))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        w = wire_return(withdrawal=paid, reason="Account closed (AC04)", actor=officer)
        r = wire_return(withdrawal=rejected, reason="Invalid account (AC01)", actor=officer)
    assert w.status == "returned" and balance(robert) == D("900.00")
    assert r.status == "failed" and fresh(wallet_for(robert, "EUR")).held_amount == 0
    assert balance(robert) == D("900.00")
    with pytest.raises(InvalidInput):
        wire_return(withdrawal=paid, reason="Twice by mistake", actor=officer)
    assert [m.subject.endswith("was returned") for m in mail.outbox] == [True, True]
    assert ledger_verify()[1] is None
    # The return credit on the next statement carries our end-to-end id: never credited again.
    back = writers.write_camt053(
        [_row(paid.reference, D("100.00"), "Robert Schneider", SCHNEIDER_IBAN, "RETURN AC04")],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(1000),
        statement_id="STMT-2",
    )
    entry = BankEntry.objects.get(statement=upload(back, "camt053", officer), amount=D(100))
    assert (entry.status, entry.why) == ("queued", "returned_wire")
    assert balance(robert) == D("900.00")


def test_wires_never_reach_a_psp_payout(methods, officer):
    from finance.services import withdrawal_payout
    from finance.services.withdrawals import withdrawals_sweep

    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "300.00", methods)
    w = wire_withdrawal(robert, "10.00")
    assert withdrawal_payout(withdrawal_id=w.pk) != "pending"
    assert fresh(w).status == Withdrawal.Status.APPROVED and withdrawals_sweep() == 0


# --- Exactly once, whatever the uploads ----------------------------------------------------


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cents=st.lists(st.integers(1, 500_000), min_size=1, max_size=6),
    cuts=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=4),
    full_first=st.booleans(),
)
def test_overlapping_uploads_in_any_order_credit_each_wire_exactly_once(
    methods, officer, cents, cuts, full_first
):
    tia = Client.objects.filter(payment_reference=TIA_REF).first() or named_client(
        "tia@t.example", "Tia", "Wire", ref=TIA_REF
    )
    run = uuid.uuid4().hex[:12]
    rows = [
        _row(f"{run}-{i}", D(c) / 100, "Tia Wire", "", f"Deposit {TIA_REF}")
        for i, c in enumerate(cents)
    ]
    parts = [rows[min(a, b) : max(a, b) + 1] for a, b in cuts]
    parts = [rows, *parts] if full_first else [*parts, rows, *parts]
    before = balance(tia)
    for n, part in enumerate(p for p in parts if p):
        body = writers.write_camt053(
            part, account_iban=ACCOUNT, currency="EUR", opening_balance=D(0), statement_id=f"S{n}"
        )
        upload(body, "camt053", officer)
    entries = BankEntry.objects.filter(bank_reference__startswith=run)
    assert entries.count() == len(rows)
    assert all(e.status == "credited" and e.deposit_id for e in entries)
    assert balance(tia) - before == sum(D(c) for c in cents) / 100
    assert ledger_verify()[1] is None


def test_a_debit_with_our_end_to_end_id_but_another_amount_settles_nothing(methods, officer):
    robert = funded(named_client("rs@t.example", "Robert", "Schneider"), "900.00", methods)
    w = wire_withdrawal(robert, "100.00")
    wire_batch_create(withdrawal_ids=[w.pk], actor=officer)
    body = writers.write_camt053(
        [_row(w.reference, D("-99.50"), "Robert Schneider", SCHNEIDER_IBAN, "payout")],
        account_iban=ACCOUNT,
        currency="EUR",
        opening_balance=D(1000),
    )
    entry = BankEntry.objects.get(statement=upload(body, "camt053", officer))
    assert entry.status == "not_client" and w.reference in entry.why_detail
    assert fresh(w).status == "processing" and balance(robert) == D("900.00")


def test_a_large_statement_is_matched_in_the_background_each_entry_once(
    methods, officer, monkeypatch, django_capture_on_commit_callbacks
):
    from finance.services import wires
    from finance.tasks import bank_statement_apply_task

    tia = named_client("tia@t.example", "Tia", "Wire", ref=TIA_REF)
    named_client("bob@t.example", "Bob", "Other", ref=BOB_REF)
    monkeypatch.setattr(wires, "INLINE_ENTRIES", 2)
    with django_capture_on_commit_callbacks() as callbacks:
        statement = upload(DATA / "camt053-wires.xml", "camt053", officer)
    assert statement.counts["matching"] == 6 and statement.counts["credited"] == 0
    assert set(BankEntry.objects.filter(statement=statement).values_list("status", flat=True)) == {
        "new"
    }
    assert len(callbacks) == 1 and balance(tia) == 0  # the task, queued after commit
    assert callbacks[0].func.__self__.name == bank_statement_apply_task.name
    assert callbacks[0].args == (statement.pk,)

    done = wires.bank_statement_apply(statement_id=statement.pk)
    assert done == {"credited": 1, "queued": 3, "settled": 0, "not_client": 2}
    assert balance(tia) == D("500.00")
    assert wires.bank_statement_apply(statement_id=statement.pk) == dict.fromkeys(done, 0)
    counts = fresh(statement).counts
    assert (counts["matching"], counts["credited"], counts["queued"]) == (0, 1, 3)
    assert balance(tia) == D("500.00") and ledger_verify()[1] is None
