"""Every state change a client waits for reaches them by email, through the services: once, in
their language where a translation exists (Spanish is shipped, French is not), from the
catalogue's templates, and listed in their communication history.

Each step runs a service (or a PSP's event) and executes the callbacks the transaction left for
after commit, as a committed request would; re-running the same transition or event records and
sends nothing more."""

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.html import escape

from clients.models import ClientActivity, SupportTicket
from clients.notify import client_notify
from clients.support.services import ticket_open, ticket_reply
from clients.trading.services import trading_account_open
from finance.models import Deposit, Transfer, Withdrawal
from finance.psp import EventKind, OperationResult
from finance.services import (
    deposit_create,
    psp_event_apply,
    refund_request,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from finance.services.withdrawals import withdrawal_finish
from finance.transfers import transfer_execute, transfer_request
from kyc.models import KycSubmission
from kyc.services import (
    kyc_review_approve,
    kyc_review_reject,
    kyc_review_request_resubmission,
)
from tests.conftest import login, make_client_user, make_staff
from tests.finance.conftest import deposit_paid, event, methods, verified_client  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run `fn` as a committed request: returns (its result, the emails it sent)."""

    def _run(fn, *args, **kwargs):
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            result = fn(*args, **kwargs)
        return result, mail.outbox[before:]

    return _run


def _one(sent, client, template, subject_has):
    """The one email sent, to the client, its subject as expected, and its history entry."""
    assert len(sent) == 1, [m.subject for m in sent]
    (message,) = sent
    assert message.to == [client.user.email]
    assert subject_has in message.subject, message.subject
    assert "\n" not in message.subject and "\r" not in message.subject
    html = {mime: body for body, mime in message.alternatives}["text/html"]
    entry = ClientActivity.objects.get(client=client, template=template)
    assert entry.kind == "email" and entry.subject == message.subject
    assert entry.body == message.body and entry.html == html and entry.sent_at is not None
    assert entry.event_key
    return message, entry


def _in_review(client) -> KycSubmission:
    submission = KycSubmission.objects.create(client=client, first_name="Tia", country="GB")
    KycSubmission.objects.filter(pk=submission.pk).update(
        state="in_review", submitted_at=timezone.now()
    )
    return KycSubmission.objects.get(pk=submission.pk)


def _speaks(client, language):
    client.language = language
    client.save(update_fields=["language"])
    return client


def test_kyc_decisions_are_emailed_in_the_clients_language(run):
    officer = make_staff("compliance_officer")
    client = _speaks(verified_client("sofia@test.example"), "es")

    submission = _in_review(client)
    _, sent = run(
        kyc_review_request_resubmission,
        submission=submission,
        actor=officer,
        documents=["passport"],
        message="La foto está borrosa.",
    )
    message, _ = _one(sent, client, "kyc_documents_requested", "Suba de nuevo su documento")
    assert "No hemos podido verificar su documento (passport): La foto está borrosa." in (
        message.body
    )
    assert message.body.startswith("Hola, Tia:")

    KycSubmission.objects.filter(pk=submission.pk).update(
        state="in_review", submitted_at=timezone.now()
    )
    _, sent = run(
        kyc_review_reject, submission=submission, actor=officer, reason="Documento ajeno."
    )
    message, entry = _one(sent, client, "kyc_rejected", "No hemos podido verificar su identidad")
    assert "Documento ajeno." in message.body and entry.data["language"] == "es"
    assert "/portal/verify/" in message.body

    submission = _in_review(client)
    _, sent = run(kyc_review_approve, submission=submission, actor=officer, reason="Todo en orden")
    message, _ = _one(sent, client, "kyc_approved", "Su identidad está verificada")
    assert "Buenas noticias" in message.body
    # A language without a catalogue gets English.
    other = _speaks(verified_client("remy@test.example"), "fr")
    _, sent = run(
        kyc_review_approve, submission=_in_review(other), actor=officer, reason="All in order"
    )
    message, _ = _one(sent, other, "kyc_approved", "Your identity is verified")
    assert message.body.startswith("Hello Tia,")


def test_deposits_credited_or_failed_are_emailed_once_however_often_the_psp_says_so(
    run,
    methods,  # noqa: F811
):
    client = verified_client()
    deposit, sent = run(deposit_paid, client, methods["stripe"], "250.00")
    message, entry = _one(sent, client, "deposit_credited", "USD 250.00 is in your wallet")
    assert deposit.reference in message.body and "Stripe USD" in message.body
    assert entry.event_key == f"deposit:{deposit.pk}:credited"
    again = event(
        EventKind.PAYMENT_SUCCEEDED,
        reference=deposit.reference,
        provider_reference=deposit.provider_reference,
        amount="250.00",
    )
    _, sent = run(psp_event_apply, psp="stripe", event=again)  # a second notice of the payment
    assert sent == []

    failing = deposit_create(client=client, method=methods["stripe"], amount="80", actor="t")
    declined = event(
        EventKind.PAYMENT_FAILED, reference=failing.reference, detail="The card was declined."
    )
    _, sent = run(psp_event_apply, psp="stripe", event=declined)
    message, _ = _one(sent, client, "deposit_failed", "USD 80.00 did not go through")
    assert "The card was declined." in message.body
    assert Deposit.objects.get(pk=failing.pk).status == "failed"
    _, sent = run(psp_event_apply, psp="stripe", event=declined)  # the same event, redelivered
    assert sent == []
    assert ClientActivity.objects.filter(client=client, kind="email").count() == 2


def test_withdrawals_approved_paid_refused_and_failed_are_emailed_once(
    run,
    methods,  # noqa: F811
):
    client = _speaks(verified_client(), "es")
    deposit_paid(client, methods["stripe"], "5000.00")
    officer = make_staff("finance_officer")

    w, sent = run(
        withdrawal_request, client=client, amount="200", currency="USD", psp="stripe", actor="t"
    )
    assert w.status == "approved"
    _one(sent, client, "withdrawal_approved", f"Su retirada {w.reference} está aprobada")
    Withdrawal.objects.filter(pk=w.pk).update(status="processing")
    paid = OperationResult("succeeded", "po_1", "")
    _, sent = run(withdrawal_finish, w.pk, paid, "psp:stripe")
    message, _ = _one(sent, client, "withdrawal_paid", f"Su retirada {w.reference} se ha pagado")
    assert "se ha pagado por Stripe" in message.body
    result, sent = run(withdrawal_finish, w.pk, paid, "psp:stripe")  # the webhook after our call
    assert result == "already paid" and sent == []

    big, _ = run(
        withdrawal_request, client=client, amount="2500", currency="USD", psp="stripe", actor="t"
    )
    assert big.status == "in_review"
    _, sent = run(withdrawal_reject, withdrawal=big, actor=officer, reason="Tarjeta de un tercero")
    message, _ = _one(sent, client, "withdrawal_rejected", "ha sido rechazada")
    assert "Tarjeta de un tercero" in message.body

    big, _ = run(
        withdrawal_request, client=client, amount="2400", currency="USD", psp="stripe", actor="t"
    )
    ClientActivity.objects.filter(template="withdrawal_approved").delete()
    _, sent = run(withdrawal_approve, withdrawal=big, actor=officer, reason="Fondos vistos")
    _one(sent, client, "withdrawal_approved", f"Su retirada {big.reference} está aprobada")
    Withdrawal.objects.filter(pk=big.pk).update(status="processing")
    _, sent = run(
        withdrawal_finish, big.pk, OperationResult("failed", "", "Card expired"), "psp:stripe"
    )
    message, _ = _one(sent, client, "withdrawal_failed", "no se ha podido pagar")
    assert "Card expired" in message.body


def test_a_refund_is_emailed(run, methods):  # noqa: F811
    client = verified_client()
    deposit = deposit_paid(client, methods["stripe"], "100.00")
    refund, sent = run(
        refund_request,
        deposit=deposit,
        amount="60",
        reason="Client asked",
        actor=make_staff("finance_officer"),
    )
    assert sent == []  # asked of the PSP, not done yet
    done = event(EventKind.REFUND_SUCCEEDED, reference=refund.reference, provider_reference="re_1")
    _, sent = run(psp_event_apply, psp="stripe", event=done)
    message, _ = _one(sent, client, "refund_succeeded", "We refunded USD 60.00")
    assert deposit.reference in message.body


def test_transfers_completed_or_refused_by_the_platform_are_emailed(run, mt5_server):
    from tests.clients.factories import fund_wallet

    client = verified_client("mover@test.example")
    fund_wallet(client, "1000.00")
    account, _ = trading_account_open(
        client=client,
        account_type=mt5_server.account_types.get(currency="USD"),
        leverage=30,  # a UK retail client's limit
        actor="test",
    )
    t, _ = run(
        transfer_request,
        client=client,
        trading_account=account,
        direction="to_trading",
        amount="300.00",
        actor="test",
    )
    _, sent = run(transfer_execute, transfer_id=t.pk)
    assert Transfer.objects.get(pk=t.pk).status == "completed"
    message, entry = _one(sent, client, "transfer_completed", "Your transfer is done")
    assert f"USD 300.00 moved from your wallet to your trading account {account.login}" in (
        message.body
    )
    _, sent = run(transfer_execute, transfer_id=t.pk)  # a second copy of the task
    assert sent == []

    back, _ = run(
        transfer_request,
        client=client,
        trading_account=account,
        direction="from_trading",
        amount="5000.00",
        actor="test",
    )
    _, sent = run(transfer_execute, transfer_id=back.pk)
    assert Transfer.objects.get(pk=back.pk).status == "failed"
    message, _ = _one(sent, client, "transfer_failed", "Your transfer did not go through")
    assert "Nothing moved" in message.body


def test_tickets_received_and_answered_are_emailed_with_one_line_subjects(run, client):
    customer = verified_client("nora@test.example")
    agent = make_staff("ops_admin")
    ticket, sent = run(
        ticket_open,
        client=customer,
        subject="Deposit\r\nBcc: everyone@example.com",
        category=SupportTicket.Category.DEPOSIT,
        body="Where is my money?",
        actor=customer.user,
    )
    message, _ = _one(sent, customer, "ticket_received", "we have your request")
    assert message.subject.startswith(f"[#{ticket.pk}] Deposit")
    assert message.to == ["nora@test.example"] and not message.bcc
    assert message.message()["Bcc"] is None
    reply, sent = run(ticket_reply, ticket=ticket, body="Credited this morning.", actor=agent)
    message, entry = _one(sent, customer, "ticket_answered", f"Re: [#{ticket.pk}] Deposit")
    assert "Credited this morning." in message.body
    assert entry.event_key == f"ticket:{ticket.pk}:message:{reply.pk}"
    # The client's own reply is not emailed to them.
    _, sent = run(ticket_reply, ticket=ticket, body="Thanks!", actor=customer.user)
    assert sent == []

    # Every email is on the client's communication history in the client 360.
    login(client, make_staff("compliance_officer", email="co@test.example"))
    page = client.get(f"/backoffice/clients/{customer.pk}/").content.decode()
    for entry in ClientActivity.objects.filter(client=customer, kind="email"):
        assert escape(entry.subject) in page


def test_one_event_is_one_email_even_when_told_twice(run):
    client = verified_client()

    def tell():
        return client_notify(
            client,
            email="kyc_approved",
            key="kyc:test:approved",
            actor="test",
            url_name="portal:home",
        )

    first, sent = run(tell)
    assert first is not None and len(sent) == 1
    second, sent = run(tell)
    assert second is None and sent == []
    assert ClientActivity.objects.filter(event_key="kyc:test:approved").count() == 1


def test_an_email_the_mail_server_refuses_stays_in_the_history_unsent(run, settings):
    settings.EMAIL_BACKEND = "tests.clients.test_client_emails.RefusingBackend"
    client = verified_client()
    entry, sent = run(
        client_notify,
        client,
        email="kyc_approved",
        key="kyc:refused:approved",
        actor="test",
        url_name="portal:home",
    )
    entry.refresh_from_db()
    assert sent == [] and entry.sent_at is None and entry.subject == "Your identity is verified"


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_the_client_chooses_the_language_they_are_emailed_in(run, client):
    user = make_client_user("lena@test.example")
    login(client, user)
    assert 'name="language"' in client.get("/portal/profile/").content.decode()
    assert client.post("/portal/profile/language/", {"language": "es"}).status_code == 302
    user.client.refresh_from_db()
    assert user.client.language == "es"
    page = client.post("/portal/profile/language/", {"language": "zz"}, follow=True)
    assert "Choose a language." in page.content.decode()
    user.client.refresh_from_db()
    assert user.client.language == "es"
    _, sent = run(
        kyc_review_approve,
        submission=_in_review(user.client),
        actor=make_staff("compliance_officer"),
        reason="ok",
    )
    _one(sent, user.client, "kyc_approved", "Su identidad está verificada")
    login(client, make_staff("sales_agent"))
    assert client.post("/portal/profile/language/", {"language": "fr"}).status_code == 403
