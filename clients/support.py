"""Support tickets: clients raise them in the portal, staff answer, assign and close them.

Services (writes) and selectors (reads) in one module. Every change is audited in the same
transaction; the email to the client about a staff reply is sent after commit.
"""

from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.services import Actor, audit_record

from .models import Client, ClientActivity, SupportTicket, TicketMessage
from .notify import email_client
from .selectors import clients_visible_to

ANSWER = "clients.answer_tickets"
MAX_BODY = 10_000


def _is_staff_answerer(user) -> bool:
    return bool(getattr(user, "is_staff", False) and (user.is_superuser or user.has_perm(ANSWER)))


def _check_actor(actor: Actor, ticket_client: Client) -> bool:
    """True when the actor is staff (who may answer tickets of this client), False when it is
    the client; NotAllowed for anyone else."""
    if isinstance(actor, str):
        return True  # a named system rule
    if _is_staff_answerer(actor):
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
    subject = (subject or "").strip()
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
        action="ticket.opened",
        target=ticket,
        evidence={"client": client.pk, "category": category, "priority": priority},
    )
    if not from_staff:
        transaction.on_commit(lambda: _ticket_received_email(ticket))
    return ticket


def _ticket_received_email(ticket: SupportTicket) -> None:
    email_client(
        ticket.client.user,
        subject=f"[#{ticket.pk}] {ticket.subject}: we have your request",
        body=f'Thank you for contacting us. Your request #{ticket.pk} "{ticket.subject}" has '
        "reached our support team, and we will answer you by email and in the client portal:",
        url_name="portal:ticket",
        args=[ticket.pk],
    )


def _ticket_email(ticket: SupportTicket, body: str, author_name: str) -> None:
    email_client(
        ticket.client.user,
        subject=f"Re: [#{ticket.pk}] {ticket.subject}",
        body=f'{author_name} replied to your support request #{ticket.pk} "{ticket.subject}":'
        f"\n\n{body}\n\nRead the conversation and reply in the client portal:",
        url_name="portal:ticket",
        args=[ticket.pk],
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
        name = "Our support team" if isinstance(actor, str) else actor.get_full_name()
        ClientActivity.objects.create(
            client=client,
            kind=ClientActivity.Kind.EMAIL,
            actor=None if isinstance(actor, str) else actor,
            actor_label=actor if isinstance(actor, str) else actor.email,
            subject=f"Re: [#{ticket.pk}] {ticket.subject}",
            body=body,
            data={"ticket": ticket.pk, "message": message.pk},
        )
    audit_record(
        actor=actor,
        action="ticket.replied",
        target=ticket,
        evidence={
            "message": message.pk,
            "from_staff": from_staff,
            "status": [before, ticket.status],
        },
    )
    if from_staff:
        ticket.client = client
        transaction.on_commit(lambda: _ticket_email(ticket, body, name or "Our support team"))
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
        actor=actor, action="ticket.closed", target=ticket, reason=reason, evidence={"was": before}
    )
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: SupportTicket, assignee, actor: Actor) -> SupportTicket:
    """Give the ticket to a staff member who answers tickets and may see the client."""
    ticket = _lock(ticket)
    _check_actor(actor, ticket.client)
    if not isinstance(actor, str) and not _is_staff_answerer(actor):
        raise NotAllowed("Only support staff assign tickets.")
    if assignee is not None:
        if not (assignee.is_active and _is_staff_answerer(assignee)):
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
            action="ticket.assigned",
            target=ticket,
            evidence={"from": before, "to": after},
        )
    return ticket


@transaction.atomic
def ticket_priority_set(*, ticket: SupportTicket, priority: str, actor: Actor) -> SupportTicket:
    ticket = _lock(ticket)
    _check_actor(actor, ticket.client)
    if not isinstance(actor, str) and not _is_staff_answerer(actor):
        raise NotAllowed("Only support staff set priorities.")
    if priority not in SupportTicket.Priority.values:
        raise InvalidInput("Unknown priority.", fields={"priority": ["Choose a priority."]})
    if ticket.priority != priority:
        before = ticket.priority
        ticket.priority = priority
        ticket.save(update_fields=["priority"])
        audit_record(
            actor=actor,
            action="ticket.priority_set",
            target=ticket,
            evidence={"from": before, "to": priority},
        )
    return ticket


# --- Selectors --------------------------------------------------------------------------------


def ticket_queue(
    *,
    user,
    status: str = "open",
    category: str = "",
    priority: str = "",
    mine: bool = False,
    q: str = "",
) -> QuerySet[SupportTicket]:
    """Tickets of the clients `user` may see; waiting ones oldest first (who waited longest
    is answered first), the others newest first."""
    if not _is_staff_answerer(user):
        return SupportTicket.objects.none()
    qs = SupportTicket.objects.filter(client__in=clients_visible_to(user)).select_related(
        "client__user", "client__desk", "assigned_to"
    )
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if priority:
        qs = qs.filter(priority=priority)
    if mine:
        qs = qs.filter(assigned_to=user)
    if q:
        match = (
            Q(subject__icontains=q)
            | Q(client__user__email__icontains=q)
            | Q(client__user__last_name__icontains=q)
        )
        if q.lstrip("#").isascii() and q.lstrip("#").isdigit() and len(q) < 10:
            match |= Q(pk=int(q.lstrip("#")))
        qs = qs.filter(match)
    last_from_client = TicketMessage.objects.filter(ticket=OuterRef("pk")).order_by(
        "-created_at", "-id"
    )
    qs = qs.annotate(
        messages_count=Subquery(
            TicketMessage.objects.filter(ticket=OuterRef("pk"))
            .order_by()
            .values("ticket")
            .annotate(n=Count("id"))
            .values("n")[:1]
        ),
        last_from_staff=Subquery(last_from_client.values("from_staff")[:1]),
    )
    if status == SupportTicket.Status.OPEN:
        return qs.order_by("last_message_at", "pk")
    return qs.order_by("-last_message_at", "-pk")


def ticket_queue_summary(*, user) -> dict:
    """Counts for the queue's header, in one query."""
    return SupportTicket.objects.filter(client__in=clients_visible_to(user)).aggregate(
        open=Count("id", filter=Q(status=SupportTicket.Status.OPEN)),
        answered=Count("id", filter=Q(status=SupportTicket.Status.ANSWERED)),
        mine=Count("id", filter=Q(assigned_to=user) & ~Q(status=SupportTicket.Status.CLOSED)),
        unassigned=Count(
            "id", filter=Q(assigned_to__isnull=True, status=SupportTicket.Status.OPEN)
        ),
        oldest=Min("last_message_at", filter=Q(status=SupportTicket.Status.OPEN)),
    )


def ticket_get_for_staff(*, user, ticket_id: int) -> SupportTicket:
    """The ticket, if `user` answers tickets and may see its client: DoesNotExist for an
    unknown id, NotAllowed for another desk's client."""
    ticket = SupportTicket.objects.select_related(
        "client__user", "client__desk", "client__account_manager", "assigned_to"
    ).get(pk=ticket_id)
    if not (
        _is_staff_answerer(user) and clients_visible_to(user).filter(pk=ticket.client_id).exists()
    ):
        raise NotAllowed("This ticket's client belongs to another desk.")
    return ticket


def tickets_for_client(*, client: Client) -> QuerySet[SupportTicket]:
    """The client's own tickets (the portal), open ones first, then newest."""
    staff_replied = TicketMessage.objects.filter(ticket=OuterRef("pk"), from_staff=True)
    return (
        SupportTicket.objects.filter(client=client)
        .annotate(has_reply=Exists(staff_replied))
        .order_by("-last_message_at", "-pk")
    )


def ticket_assignees(*, ticket: SupportTicket) -> QuerySet:
    """Who the ticket can be given to: active staff who answer tickets and see this client (the
    client's desk, its manager, the client's account manager, or roles that see every
    client), in one query."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    client = ticket.client
    perms = Q(groups__permissions__content_type__app_label="clients")
    answerers = perms & Q(groups__permissions__codename="answer_tickets")
    sees = Q(pk=client.account_manager_id) | Q(
        pk__in=get_user_model()
        .objects.filter(
            groups__permissions__content_type__app_label="clients",
            groups__permissions__codename="view_all_clients",
        )
        .values("pk")
    )
    if client.desk_id:
        sees |= Q(staff_profile__desk_id=client.desk_id) | Q(managed_desks=client.desk_id)
    return (
        get_user_model()
        .objects.filter(answerers, sees, is_active=True, is_staff=True)
        .distinct()
        .order_by("first_name", "last_name", "email")
    )


def ticket_get_for_client(*, client: Client, ticket_id: int) -> SupportTicket:
    """The client's own ticket; another client's ticket is DoesNotExist (a 404, not a 403:
    a client never learns that someone else's ticket exists)."""
    return SupportTicket.objects.select_related("client__user", "assigned_to").get(
        pk=ticket_id, client=client
    )


def ticket_messages(ticket: SupportTicket) -> QuerySet[TicketMessage]:
    return ticket.messages.select_related("author").order_by("created_at", "id")
