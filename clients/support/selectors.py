"""Support ticket reads: the staff queue and its counts, a ticket for staff or for its client,
the conversation, and who a ticket can be given to.

Contract: reads only. Staff see the tickets of the clients they may see
(`clients.selectors.clients_visible_to`) and only if they answer tickets; another desk's ticket
is NotAllowed. A client sees only their own tickets; anyone else's is DoesNotExist (a 404: a
client never learns that someone else's ticket exists).
"""

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery

from brokerage.errors import NotAllowed
from clients.models import Client, SupportTicket, TicketMessage
from clients.selectors import clients_visible_to

ANSWER = "clients.answer_tickets"


def answers_tickets(user) -> bool:
    """Whether `user` is staff who answers support tickets."""
    return bool(getattr(user, "is_staff", False) and (user.is_superuser or user.has_perm(ANSWER)))


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
    if not answers_tickets(user):
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
        answers_tickets(user) and clients_visible_to(user).filter(pk=ticket.client_id).exists()
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
