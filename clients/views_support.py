"""Support in the trader portal (/portal/support/): the client's tickets, a new ticket, and a
ticket's conversation with reply and close. A client sees only their own tickets."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.views import add_domain_error, paginate

from .forms_backoffice import TicketOpenForm, TicketReplyForm
from .models import SupportTicket
from .permissions import client_required
from .support import selectors as support_selectors
from .support import services as support_services


@client_required
@require_http_methods(["GET", "POST"])
def support_home(request):
    client = request.user.client
    form = TicketOpenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = support_services.ticket_open(
                client=client,
                subject=data["subject"],
                category=data["category"],
                body=data["body"],
                actor=request.user,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Ticket #{ticket.pk} is open: we will answer by email.")
            return redirect("portal:ticket", ticket_id=ticket.pk)
    page, query = paginate(
        request, support_selectors.tickets_for_client(client=client), per_page=20
    )
    return render(
        request,
        "clients/portal/support.html",
        {"form": form, "page": page, "query": query},
        status=400 if form.errors else 200,
    )


@client_required
@require_http_methods(["GET", "POST"])
def ticket(request, ticket_id: int):
    client = request.user.client
    try:
        t = support_selectors.ticket_get_for_client(client=client, ticket_id=ticket_id)
    except SupportTicket.DoesNotExist as exc:
        raise Http404("No such ticket.") from exc
    form = TicketReplyForm()
    if request.method == "POST":
        action = request.POST.get("action", "reply")
        try:
            if action == "close":
                support_services.ticket_close(
                    ticket=t, actor=request.user, reason="closed by the client"
                )
                messages.success(request, "Ticket closed. Open a new one any time.")
                return redirect("portal:ticket", ticket_id=t.pk)
            form = TicketReplyForm(request.POST)
            if form.is_valid():
                support_services.ticket_reply(
                    ticket=t, body=form.cleaned_data["body"], actor=request.user
                )
                messages.success(request, "Message sent.")
                return redirect("portal:ticket", ticket_id=t.pk)
        except DomainError as exc:
            add_domain_error(form, exc)
    return render(
        request,
        "clients/portal/ticket.html",
        {"ticket": t, "conversation": support_selectors.ticket_messages(t), "form": form},
        status=400 if form.errors else 200,
    )
