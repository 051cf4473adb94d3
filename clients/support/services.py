"""Support ticket writes: a client opens a ticket in the portal (or staff open one for them),
staff and client reply, staff assign, prioritise and close.

Contract: keyword-only, `actor=` a user or a named system rule. The actor must be staff who
answer tickets and may see the client, or the client who raised the ticket (NotAllowed
otherwise); bad input is InvalidInput with field errors. Each write takes the ticket's row lock
and is audited in the same transaction; the emails to the client (request received, staff
reply) are sent after commit. Reads are in `selectors`.
"""

from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.mail import header_value
from brokerage.services import Actor, audit_record
from clients import audit_events
from clients.models import Client, SupportTicket, TicketMessage
from clients.notify import client_notify
from clients.selectors import clients_visible_to

from .selectors import answers_tickets

MAX_BODY = 10_000


def _check_actor(actor: Actor, ticket_client: Client) -> bool:
    """True when the actor is staff (who may answer tickets of this client), False when it is
    the client; NotAllowed for anyone else."""
    if isinstance(actor, str):
        return True  # a named system rule
    if answers_tickets(actor):
        if not clients_visible_to(actor).filter(pk=ticket_client.pk).exists():
            raise NotAllowed("This client belongs to another desk.")
        return True
    if not actor.is_staff and ticket_client.user_id == actor.pk:
        return False
    raise NotAllowed("You cannot act on this ticket.")


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("The message is empty.", fields={"body": ["Write a message."]})
    if len(body) > MAX_BODY:
        raise InvalidInput(
            "Messages are at most 10,000 characters.", fields={"body": ["Too long."]}
        )
    return body


def _lock(ticket: SupportTicket) -> SupportTicket:
    return SupportTicket.objects.select_for_update().get(pk=ticket.pk)


@transaction.atomic
def ticket_open(
    *,
    client: Client,
    subject: str,
    category: str,
    body: str,
    actor: Actor,
    priority: str = SupportTicket.Priority.NORMAL,
) -> SupportTicket:
    """Open a ticket with its first message (the client in the portal, or staff for them)."""
    from_staff = _check_actor(actor, client)
    subject = header_value(subject)  # one line: it becomes the subject of every email about it
    if not subject:
        raise InvalidInput("Give the ticket a subject.", fields={"subject": ["Required."]})
    if len(subject) > 200:
        raise InvalidInput("The subject is too long.", fields={"subject": ["At most 200."]})
    if category not in SupportTicket.Category.values:
        raise InvalidInput("Unknown topic.", fields={"category": ["Choose a topic."]})
    if priority not in SupportTicket.Priority.values:
        raise InvalidInput("Unknown priority.", fields={"priority": ["Choose a priority."]})
    body = _clean_body(body)
    ticket = SupportTicket.objects.create(
        client=client,
        subject=subject,
        category=category,
        priority=priority,
        status=SupportTicket.Status.OPEN,
    )
    TicketMessage.objects.create(
        ticket=ticket,
        author=None if isinstance(actor, str) else actor,
        from_staff=from_staff,
        body=body,
    )
    audit_record(
        actor=actor,
        action=audit_events.TICKET_OPENED,
        target=ticket,
        evidence={"client": client.pk, "category": category, "priority": priority},
    )
    if not from_staff:
        _tell(ticket, client, "received", key=f"ticket:{ticket.pk}:received", actor=actor)
    return ticket


def _tell(ticket: SupportTicket, client: Client, what: str, *, key: str, actor: Actor, **context):
    """The email `ticket_<what>` to the client, once per `key`, after commit."""
    client_notify(
        client,
        email=f"ticket_{what}",
        key=key,
        actor=actor,
        url_name="portal:ticket",
        args=[ticket.pk],
        context={"ticket": ticket.pk, "subject": ticket.subject, **context},
        data={"ticket": ticket.pk},
    )


@transaction.atomic
def ticket_reply(*, ticket: SupportTicket, body: str, actor: Actor) -> TicketMessage:
    """Add a message. A staff reply marks the ticket answered (and assigns an unassigned ticket
    to whoever answered) and emails the client a link to it; a client reply opens it again."""
    ticket = _lock(ticket)
    client = Client.objects.select_related("user").get(pk=ticket.client_id)
    from_staff = _check_actor(actor, client)
    if ticket.status == SupportTicket.Status.CLOSED:
        raise InvalidInput(
            "This ticket is closed; open a new one.",
            code="ticket_closed",
            fields={"body": ["The ticket is closed."]},
        )
    body = _clean_body(body)
    message = TicketMessage.objects.create(
        ticket=ticket,
        author=None if isinstance(actor, str) else actor,
        from_staff=from_staff,
        body=body,
    )
    before = ticket.status
    ticket.status = SupportTicket.Status.ANSWERED if from_staff else SupportTicket.Status.OPEN
    ticket.last_message_at = message.created_at
    fields = ["status", "last_message_at"]
    if from_staff and ticket.assigned_to_id is None and not isinstance(actor, str):
        ticket.assigned_to = actor
        fields.append("assigned_to")
    ticket.save(update_fields=fields)
    if from_staff:
        name = "" if isinstance(actor, str) else actor.get_full_name()
        _tell(
            ticket,
            client,
            "answered",
            key=f"ticket:{ticket.pk}:message:{message.pk}",
            actor=actor,
            author=name or "Our support team",
            reply=body,
        )
    audit_record(
        actor=actor,
        action=audit_events.TICKET_REPLIED,
        target=ticket,
        evidence={
            "message": message.pk,
            "from_staff": from_staff,
            "status": [before, ticket.status],
        },
    )
    return message


@transaction.atomic
def ticket_close(*, ticket: SupportTicket, actor: Actor, reason: str = "") -> SupportTicket:
    """Close the ticket (staff, or the client who raised it). Closing twice changes nothing."""
    ticket = _lock(ticket)
    _check_actor(actor, ticket.client)
    if ticket.status == SupportTicket.Status.CLOSED:
        return ticket
    reason = (reason or "").strip()[:200] or "Resolved"
    before = ticket.status
    ticket.status = SupportTicket.Status.CLOSED
    ticket.closed_at = timezone.now()
    ticket.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        action=audit_events.TICKET_CLOSED,
        target=ticket,
        reason=reason,
        evidence={"was": before},
    )
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: SupportTicket, assignee, actor: Actor) -> SupportTicket:
    """Give the ticket to a staff member who answers tickets and may see the client."""
    ticket = _lock(ticket)
    _check_actor(actor, ticket.client)
    if not isinstance(actor, str) and not answers_tickets(actor):
        raise NotAllowed("Only support staff assign tickets.")
    if assignee is not None:
        if not (assignee.is_active and answers_tickets(assignee)):
            raise InvalidInput(
                "That person does not answer tickets.", fields={"assignee": ["Not support."]}
            )
        if not clients_visible_to(assignee).filter(pk=ticket.client_id).exists():
            raise InvalidInput(
                "That person cannot see this client.", fields={"assignee": ["Another desk."]}
            )
    before = ticket.assigned_to_id
    after = assignee.pk if assignee else None
    if before != after:
        ticket.assigned_to = assignee
        ticket.save(update_fields=["assigned_to"])
        audit_record(
            actor=actor,
            action=audit_events.TICKET_ASSIGNED,
            target=ticket,
            evidence={"from": before, "to": after},
        )
    return ticket


@transaction.atomic
def ticket_priority_set(*, ticket: SupportTicket, priority: str, actor: Actor) -> SupportTicket:
    ticket = _lock(ticket)
    _check_actor(actor, ticket.client)
    if not isinstance(actor, str) and not answers_tickets(actor):
        raise NotAllowed("Only support staff set priorities.")
    if priority not in SupportTicket.Priority.values:
        raise InvalidInput("Unknown priority.", fields={"priority": ["Choose a priority."]})
    if ticket.priority != priority:
        before = ticket.priority
        ticket.priority = priority
        ticket.save(update_fields=["priority"])
        audit_record(
            actor=actor,
            action=audit_events.TICKET_PRIORITY_SET,
            target=ticket,
            evidence={"from": before, "to": priority},
        )
    return ticket
