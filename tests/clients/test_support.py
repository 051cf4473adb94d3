"""Support tickets end to end: the client opens one in the portal, staff answer (the client is
emailed), the client replies, staff close it; scoping and permissions on every page."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.models import AuditEvent, Desk
from clients.models import Client, ClientActivity, SupportTicket, TicketMessage
from clients.support import services as support
from tests.conftest import login, make_client_user, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(db):
    london = Desk.objects.create(name="London", languages=["en"])
    dubai = Desk.objects.create(name="Dubai", languages=["ar"])
    user = make_client_user("nora@test.example")
    user.first_name = "Nora"
    user.save()
    Client.objects.filter(user=user).update(desk=london)
    agent = make_staff("retention_agent", desk=london)
    return {"london": london, "dubai": dubai, "user": user, "agent": agent}


def open_in_portal(client, user, subject="Card declined", body="My card was declined twice."):
    login(client, user)
    r = client.post("/portal/support/", {"category": "deposit", "subject": subject, "body": body})
    assert r.status_code == 302, r.content[:500]
    return SupportTicket.objects.get(subject=subject)


def test_ticket_end_to_end(client, setting, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = "https://crm.example.com"
    ticket = open_in_portal(client, setting["user"])
    assert client.get(f"/portal/support/{ticket.pk}/").status_code == 200
    assert ticket.status == "open" and ticket.category == "deposit"
    assert ticket.messages.get().body == "My card was declined twice."

    # Staff see it in the queue and answer it.
    login(client, setting["agent"])
    queue = client.get("/backoffice/clients/tickets/")
    assert [t.pk for t in queue.context["page"]] == [ticket.pk]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/backoffice/clients/tickets/{ticket.pk}/",
            {"action": "reply", "body": "Please try again: the PSP had an outage."},
        )
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "answered" and ticket.assigned_to == setting["agent"]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["nora@test.example"]
    assert f"[#{ticket.pk}]" in email.subject
    assert "the PSP had an outage" in email.body
    assert f"https://crm.example.com/portal/support/{ticket.pk}/" in email.body
    sent = ClientActivity.objects.get(kind="email", template="ticket_answered")
    assert sent.data["ticket"] == ticket.pk  # in the 360's communication history
    assert sent.subject == email.subject and sent.sent_at is not None

    # The client reads and replies: open again.
    login(client, setting["user"])
    page = client.get(f"/portal/support/{ticket.pk}/")
    assert b"the PSP had an outage" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/portal/support/{ticket.pk}/", {"action": "reply", "body": "Still failing"}
        )
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert len(mail.outbox) == 1  # the client's own reply is not emailed to them

    # Staff close it with a reason.
    login(client, setting["agent"])
    r = client.post(
        f"/backoffice/clients/tickets/{ticket.pk}/", {"action": "close", "reason": "Card fixed"}
    )
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.closed_at is not None
    actions = list(
        AuditEvent.objects.filter(
            target_type="clients.supportticket", target_id=str(ticket.pk)
        ).values_list("action", flat=True)
    )
    assert sorted(actions) == sorted(
        ["ticket.opened", "ticket.replied", "ticket.replied", "ticket.closed"]
    )
    assert AuditEvent.objects.get(action="ticket.closed").reason == "Card fixed"
    # A closed ticket takes no more replies: a clear error, nothing saved.
    login(client, setting["user"])
    r = client.post(f"/portal/support/{ticket.pk}/", {"action": "reply", "body": "One more"})
    assert r.status_code == 400 and b"closed" in r.content
    assert ticket.messages.count() == 3


def test_another_client_cannot_see_or_touch_the_ticket(client, setting):
    ticket = open_in_portal(client, setting["user"])
    login(client, make_client_user("mallory@test.example"))
    assert client.get(f"/portal/support/{ticket.pk}/").status_code == 404
    r = client.post(f"/portal/support/{ticket.pk}/", {"action": "reply", "body": "hi"})
    assert r.status_code == 404
    r = client.post(f"/portal/support/{ticket.pk}/", {"action": "close"})
    assert r.status_code == 404
    assert ticket.messages.count() == 1
    assert b"Card declined" not in client.get("/portal/support/").content


def test_client_closes_own_ticket(client, setting):
    ticket = open_in_portal(client, setting["user"])
    r = client.post(f"/portal/support/{ticket.pk}/", {"action": "close"})
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_portal_form_errors_are_shown(client, setting):
    login(client, setting["user"])
    r = client.post("/portal/support/", {"category": "nope", "subject": "", "body": ""})
    assert r.status_code == 400
    assert b'data-field-error="subject"' in r.content
    assert not SupportTicket.objects.exists()


def test_other_desk_agent_cannot_open_or_answer(client, setting):
    ticket = open_in_portal(client, setting["user"])
    login(client, make_staff("retention_agent", desk=setting["dubai"], email="d@test.example"))
    assert [t.pk for t in client.get("/backoffice/clients/tickets/").context["page"]] == []
    assert client.get(f"/backoffice/clients/tickets/{ticket.pk}/").status_code == 403
    r = client.post(f"/backoffice/clients/tickets/{ticket.pk}/", {"action": "reply", "body": "hi"})
    assert r.status_code == 403
    assert client.get("/backoffice/clients/tickets/999999/").status_code == 404
    assert ticket.messages.count() == 1


@pytest.mark.parametrize(
    "audience", ["sales_agent", "compliance_officer", "finance_officer", "ib_manager", "client"]
)
def test_roles_without_answer_tickets_get_403(client, setting, audience):
    ticket = SupportTicket.objects.create(client=setting["user"].client, subject="x")
    login(client, setting["user"] if audience == "client" else make_staff(audience))
    assert client.get("/backoffice/clients/tickets/").status_code == 403
    assert client.get(f"/backoffice/clients/tickets/{ticket.pk}/").status_code == 403


def test_staff_cannot_use_the_portal_support_pages(client, setting):
    login(client, setting["agent"])
    assert client.get("/portal/support/").status_code == 403
    client.logout()
    r = client.get("/portal/support/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_assign_priority_and_filters(client, setting):
    ticket = open_in_portal(client, setting["user"])
    other = SupportTicket.objects.create(
        client=setting["user"].client, subject="Leverage", category="trading"
    )
    login(client, setting["agent"])
    url = f"/backoffice/clients/tickets/{ticket.pk}/"
    assert client.post(url, {"action": "assign"}).status_code == 302
    assert client.post(url, {"action": "priority", "priority": "high"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assigned_to == setting["agent"] and ticket.priority == "high"
    mine = client.get("/backoffice/clients/tickets/", {"mine": "1"}).context["page"]
    assert [t.pk for t in mine] == [ticket.pk]
    by_topic = client.get("/backoffice/clients/tickets/", {"category": "trading"})
    assert [t.pk for t in by_topic.context["page"]] == [other.pk]
    high = client.get("/backoffice/clients/tickets/", {"priority": "high"})
    assert [t.pk for t in high.context["page"]] == [ticket.pk]
    found = client.get("/backoffice/clients/tickets/", {"q": "leverage"})
    assert [t.pk for t in found.context["page"]] == [other.pk]
    assert client.post(url, {"action": "unassign"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assigned_to is None
    bad = client.post(url, {"action": "reply", "body": "   "})
    assert bad.status_code == 400


def test_queue_oldest_waiting_first_and_constant_queries(
    client, setting, django_assert_max_num_queries
):
    c = setting["user"].client
    first = SupportTicket.objects.create(client=c, subject="first")
    TicketMessage.objects.create(ticket=first, body="a", author=setting["user"])
    second = SupportTicket.objects.create(client=c, subject="second")
    SupportTicket.objects.filter(pk=first.pk).update(last_message_at=second.last_message_at)
    SupportTicket.objects.filter(pk=second.pk).update(
        last_message_at=second.last_message_at.replace(year=second.last_message_at.year + 1)
    )
    login(client, setting["agent"])
    page = client.get("/backoffice/clients/tickets/")
    assert [t.pk for t in page.context["page"]] == [first.pk, second.pk]
    with CaptureQueriesContext(connection) as few:
        client.get("/backoffice/clients/tickets/")
    for i in range(40):
        t = SupportTicket.objects.create(client=c, subject=f"t{i}")
        TicketMessage.objects.create(ticket=t, body="b", author=setting["user"])
    with django_assert_max_num_queries(len(few)):
        page = client.get("/backoffice/clients/tickets/")
    assert len(page.context["page"]) == 25


def test_services_refuse_strangers_and_bad_input(setting):
    c = setting["user"].client
    stranger = make_client_user("eve@test.example")
    with pytest.raises(NotAllowed):
        support.ticket_open(client=c, subject="s", category="other", body="b", actor=stranger)
    with pytest.raises(InvalidInput):
        support.ticket_open(client=c, subject="s", category="other", body=" ", actor=c.user)
    ticket = support.ticket_open(client=c, subject="s", category="other", body="b", actor=c.user)
    with pytest.raises(NotAllowed):
        support.ticket_reply(ticket=ticket, body="x", actor=stranger)
    with pytest.raises(NotAllowed):
        support.ticket_close(ticket=ticket, actor=make_staff("sales_agent"), reason="")
    with pytest.raises(InvalidInput):
        support.ticket_assign(ticket=ticket, assignee=stranger, actor=setting["agent"])


def test_the_360_lists_the_clients_tickets(client, setting):
    ticket = open_in_portal(client, setting["user"])
    login(client, setting["agent"])
    page = client.get(f"/backoffice/clients/{setting['user'].client.pk}/")
    assert f'data-ticket="{ticket.pk}"'.encode() in page.content
    assert f"/backoffice/clients/tickets/{ticket.pk}/".encode() in page.content


def test_assign_to_a_colleague_who_sees_the_client(client, setting):
    ticket = open_in_portal(client, setting["user"])
    colleague = make_staff(
        "senior_account_manager", email="sam@test.example", desk=setting["london"]
    )
    elsewhere = make_staff("retention_agent", email="dubai@test.example", desk=setting["dubai"])
    make_staff("sales_agent", email="sales@test.example", desk=setting["london"])  # no tickets
    login(client, setting["agent"])
    url = f"/backoffice/clients/tickets/{ticket.pk}/"
    page = client.get(url)
    offered = {u.email for u in page.context["assign_form"].fields["assignee"].queryset}
    assert offered == {setting["agent"].email, colleague.email}
    assert client.post(url, {"action": "assign_to", "assignee": colleague.pk}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assigned_to == colleague
    refused = client.post(url, {"action": "assign_to", "assignee": elsewhere.pk})
    assert refused.status_code == 400
    ticket.refresh_from_db()
    assert ticket.assigned_to == colleague
    assert client.post(url, {"action": "assign_to", "assignee": "x"}).status_code == 400


def test_the_client_is_told_their_request_arrived(
    client, setting, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://crm.example.com"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_in_portal(client, setting["user"], subject="Where is my withdrawal")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nora@test.example"]
    assert f"[#{ticket.pk}]" in mail.outbox[0].subject
    assert f"https://crm.example.com/portal/support/{ticket.pk}/" in mail.outbox[0].body


def test_a_subject_with_line_breaks_is_one_line_and_every_email_is_sent(
    client, setting, django_capture_on_commit_callbacks
):
    """A subject typed (or posted) with CR/LF once stopped every email about the ticket (the
    line break would have started a new header): it is stored as one line, and a ticket that
    already has one still gets its emails, their subject on one line."""
    login(client, setting["user"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            "/portal/support/",
            {
                "category": "deposit",
                "subject": "Card declined\r\nBcc: victim@example.com",
                "body": "Twice.",
            },
        )
    assert r.status_code == 302
    ticket = SupportTicket.objects.get()
    assert ticket.subject == "Card declined Bcc: victim@example.com"
    assert len(mail.outbox) == 1 and "\n" not in mail.outbox[0].subject
    assert mail.outbox[0].bcc == [] and mail.outbox[0].to == ["nora@test.example"]

    # A subject stored before the cleaning: staff replies still go out.
    SupportTicket.objects.filter(pk=ticket.pk).update(subject="Card\r\ndeclined\nagain")
    login(client, setting["agent"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/backoffice/clients/tickets/{ticket.pk}/", {"action": "reply", "body": "On it."}
        )
    assert r.status_code == 302
    [email] = mail.outbox
    assert email.subject == f"Re: [#{ticket.pk}] Card declined again"
    email.message().as_bytes()  # what the SMTP backend builds: no BadHeaderError
    assert ClientActivity.objects.get(template="ticket_answered").subject == email.subject
