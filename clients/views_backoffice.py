"""Clients in the back-office (/backoffice/clients/): the client list, the client 360 with its
note and call forms, and the support ticket queue."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from brokerage import exports
from brokerage.db import reads_from_replica
from brokerage.errors import NotAllowed
from brokerage.hooks import CLIENT_LIST_FILTERS, contributions
from brokerage.ids import parse_days, parse_id
from brokerage.intl import is_country
from brokerage.permissions import require, staff_required
from brokerage.roles import reads_only
from brokerage.selectors import audit_trail_for
from brokerage.views import form_action, paginate

from . import selectors, services
from .access import personal_data_viewed
from .client360 import client360_build
from .forms_backoffice import (
    CallForm,
    NoteForm,
    TicketAssignForm,
    TicketCloseForm,
    TicketPriorityForm,
    TicketReplyForm,
)
from .models import Client, PersonalDataView, SupportTicket
from .support import selectors as support_selectors
from .support import services as support_services

ANSWER = "clients.answer_tickets"


def _sees_clients(user) -> bool:
    return user.is_staff and (
        user.is_superuser
        or user.has_perm("clients.view_all_clients")
        or user.has_perm("clients.view_desk_clients")
    )


clients_required = require(_sees_clients, "Your role does not include client pages.")
records_on_clients = require(
    lambda user: _sees_clients(user) and not reads_only(user),
    "Your role reads clients' records; it does not add to them.",
)


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _client_or_404(request, client_id: int) -> Client:
    try:
        return selectors.client_get(user=request.user, client_id=client_id)
    except Client.DoesNotExist as exc:
        raise Http404("No such client.") from exc
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc


# --- Client list -------------------------------------------------------------------------------

CLIENT_COLUMNS = [
    *exports.columns("client_id=pk"),
    *exports.person_columns("user."),
    *exports.columns("phone", personal=True),
    *exports.columns("country", "status=get_status_display()", "kyc_level"),
    *exports.columns("risk_rating=get_risk_rating_display()", "desk=desk.name"),
    exports.staff_column("account_manager", "account_manager"),
    *exports.columns(
        "registered_at_utc=created_at",
        "first_deposit_at_utc=first_deposit_at",
        "last_trade_at_utc=last_trade_at",
        "open_retention_flag=has_open_flag",
    ),
]


def _client_list(request, title: str):
    q = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "")
    status = status if status in Client.Status.values else ""
    desks = list(selectors.desks_visible_to(request.user))
    desk_id = parse_id(request.GET.get("desk"))
    desk_id = desk_id if desk_id in {d.pk for d in desks} else None
    kyc_level = _int(request.GET.get("kyc", ""))
    kyc_level = kyc_level if kyc_level in (0, 1) else None
    flagged = request.GET.get("flagged") == "1"
    country = request.GET.get("country", "").strip().upper()
    country = country if is_country(country) else ""
    ftd = parse_days(request.GET, "start", "end") if request.GET.get("ftd") == "1" else None
    traded = parse_days(request.GET, "traded_from", "traded_to")
    # Filters the apps above contribute (a first deposit's PSP): each (name, value, label).
    narrowed = []
    for name, narrow in contributions(CLIENT_LIST_FILTERS):
        value = request.GET.get(name, "").strip()[:40]
        found = narrow(value) if value else None
        if found is not None:
            narrowed.append((name, value, found))
    qs = selectors.client_list(
        user=request.user,
        q=q,
        status=status,
        desk_id=desk_id,
        kyc_level=kyc_level,
        flagged=flagged,
        country=country,
        ftd=ftd,
        traded=traded,
        conditions=[condition for _n, _v, (condition, _label) in narrowed],
    )
    if "export" in request.GET:
        return exports.list_export(request, exports.Listing("clients", title, CLIENT_COLUMNS), qs)
    page, query = paginate(request, qs)
    ctx = {
        "export_query": exports.export_query(request.GET),
        "title": title,
        "page": page,
        "query": query,
        "q": q,
        "status": status,
        "statuses": Client.Status.choices,
        "desks": desks,
        "desk_id": desk_id,
        "kyc_level": kyc_level,
        "flagged": flagged,
        "country": country,
        "ftd": ftd,
        "traded": traded,
        "narrowed": [(name, value, label) for name, value, (_c, label) in narrowed],
    }
    return render(request, "clients/list.html", ctx)


@clients_required
@reads_from_replica()
def client_list(request):
    return _client_list(request, "Clients")


@staff_required("clients.view_all_clients")
@reads_from_replica()
def client_list_all(request):
    return _client_list(request, "All clients")


def _trading_filters(request):
    """The desk (one the user may see), country and symbol a deals or positions list is
    narrowed by, from its query string; what is not valid is ignored."""
    desks = list(selectors.desks_visible_to(request.user))
    desk_id = parse_id(request.GET.get("desk"))
    desk_id = desk_id if desk_id in {d.pk for d in desks} else None
    country = request.GET.get("country", "").strip().upper()
    country = country if is_country(country) else ""
    return desks, desk_id, country, request.GET.get("symbol", "").strip()[:32]


@clients_required
@reads_from_replica()
def deal_list(request):
    """The deals behind the trading figures (lots, notional, revenue, clients' P/L), read only:
    the period's buy and sell deals of the clients the user may see, with their total lots."""
    desks, desk_id, country, symbol = _trading_filters(request)
    traded = parse_days(request.GET, "traded_from", "traded_to")
    deals = selectors.deal_list(
        user=request.user, traded=traded, desk_id=desk_id, country=country, symbol=symbol
    )
    if "export" in request.GET:
        return exports.list_export(request, DEALS, deals)
    page, query = paginate(request, deals, per_page=50)
    ctx = {
        "export_query": exports.export_query(request.GET),
        "page": page,
        "query": query,
        "totals": selectors.deal_totals(deals),
        "traded": traded,
        "desk": next((d for d in desks if d.pk == desk_id), None),
        "country": country,
        "symbol": symbol,
    }
    return render(request, "clients/deals.html", ctx)


@clients_required
@reads_from_replica()
def position_list(request):
    """The open positions behind the dealing dashboard's exposure per symbol, read only: those
    of the clients the user may see, narrowed by symbol, desk and country, with their lots."""
    desks, desk_id, country, symbol = _trading_filters(request)
    positions = selectors.position_list(
        user=request.user, desk_id=desk_id, country=country, symbol=symbol
    )
    if "export" in request.GET:
        return exports.list_export(request, POSITIONS, positions)
    page, query = paginate(request, positions, per_page=50)
    ctx = {
        "export_query": exports.export_query(request.GET),
        "page": page,
        "query": query,
        "totals": selectors.position_totals(positions),
        "desk": next((d for d in desks if d.pk == desk_id), None),
        "country": country,
        "symbol": symbol,
    }
    return render(request, "clients/positions.html", ctx)


POSITIONS = exports.Listing(
    "clients.positions",
    "Open positions",
    [
        *exports.columns("position_id", "client_id", "login=account.login"),
        *exports.columns("client_name=client.user.get_full_name()", personal=True),
        *exports.columns("symbol", "side=get_action_display()", "volume_lots=lots"),
        *exports.columns("price_open", "price_current", "profit_amount", "swap_amount"),
        *exports.columns("currency=account.currency", "opened_at_utc=opened_at"),
        *exports.columns("synced_at_utc=synced_at"),
    ],
)


DEALS = exports.Listing(
    "clients.deals",
    "Deals",
    [
        *exports.columns("deal_id=pk", "ticket", "client_id", "login=account.login"),
        *exports.columns("client_name=client.user.get_full_name()", personal=True),
        *exports.columns("time_utc=time", "action=get_action_display()"),
        *exports.columns("entry=get_entry_display()", "symbol", "volume_lots=lots"),
        *exports.columns("price", "profit_amount", "swap_amount", "commission_amount"),
        *exports.columns("currency=account.currency", "position_id"),
    ],
)


# --- The client 360 ----------------------------------------------------------------------------


def _detail(request, client, status=200, **forms):
    view = client360_build(client=client, user=request.user)
    for section in view.main + view.side:
        if section.key == "communications":
            section.context.update({k: v for k, v in forms.items() if v is not None})
            section.context["active_tab"] = forms.get("active_tab") or "note"
    return render(
        request,
        "clients/detail.html",
        {
            "client": client,
            "view": view,
            "charts_json": [c.__dict__ for c in view.charts],
        },
        status=status,
    )


@clients_required
def client_detail(request, client_id: int):
    client = _client_or_404(request, client_id)
    personal_data_viewed(
        request=request, client_id=client.pk, what=PersonalDataView.What.CLIENT_360
    )
    return _detail(request, client)


def _act(request, client, form, action, form_name):
    """Run one action on the client from a posted form; re-render with errors, never a 500."""
    url = reverse("clients:detail", args=[client.pk]) + "#communications"
    return form_action(request, form, action, success_url=url) or _detail(
        request,
        client,
        status=400,
        **{form_name: form, "active_tab": form_name.removesuffix("_form")},
    )


@records_on_clients
@require_POST
def client_note(request, client_id: int):
    client = _client_or_404(request, client_id)
    return _act(
        request,
        client,
        NoteForm(request.POST),
        lambda d: services.client_note_add(client=client, actor=request.user, text=d["text"]),
        "note_form",
    )


@records_on_clients
@require_POST
def client_call(request, client_id: int):
    client = _client_or_404(request, client_id)
    return _act(
        request,
        client,
        CallForm(request.POST),
        lambda d: services.client_call_log(
            client=client,
            actor=request.user,
            outcome=d["outcome"],
            direction=d["direction"],
            duration_seconds=d["duration_minutes"] * 60,
            notes=d["notes"],
        ),
        "call_form",
    )


# --- Support tickets ---------------------------------------------------------------------------


@staff_required(ANSWER)
def ticket_queue(request):
    status = request.GET.get("status", "open")
    status = status if status in SupportTicket.Status.values or status == "" else "open"
    category = request.GET.get("category", "")
    category = category if category in SupportTicket.Category.values else ""
    priority = request.GET.get("priority", "")
    priority = priority if priority in SupportTicket.Priority.values else ""
    mine = request.GET.get("mine") == "1"
    q = request.GET.get("q", "").strip()[:100]
    qs = support_selectors.ticket_queue(
        user=request.user, status=status, category=category, priority=priority, mine=mine, q=q
    )
    page, query = paginate(request, qs)
    return render(
        request,
        "clients/tickets.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "category": category,
            "priority": priority,
            "mine": mine,
            "q": q,
            "statuses": SupportTicket.Status.choices,
            "categories": SupportTicket.Category.choices,
            "priorities": SupportTicket.Priority.choices,
            "summary": support_selectors.ticket_queue_summary(user=request.user),
        },
    )


def _ticket_or_404(request, ticket_id: int) -> SupportTicket:
    try:
        return support_selectors.ticket_get_for_staff(user=request.user, ticket_id=ticket_id)
    except SupportTicket.DoesNotExist as exc:
        raise Http404("No such ticket.") from exc
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc


@staff_required(ANSWER)
@require_http_methods(["GET", "POST"])
def ticket_detail(request, ticket_id: int):
    """The conversation; POST `action` = reply | assign | unassign | priority | close."""
    ticket = _ticket_or_404(request, ticket_id)
    reply_form = TicketReplyForm()
    close_form = TicketCloseForm()
    priority_form = TicketPriorityForm(initial={"priority": ticket.priority})
    assignees = support_selectors.ticket_assignees(ticket=ticket)
    assign_form = TicketAssignForm(assignees=assignees, initial={"assignee": ticket.assigned_to_id})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        form_classes = {
            "reply": TicketReplyForm,
            "close": TicketCloseForm,
            "priority": TicketPriorityForm,
            "assign": TicketCloseForm,  # no input: holds a DomainError if there is one
            "unassign": TicketCloseForm,
            "assign_to": TicketAssignForm,
        }
        if action not in form_classes:
            return redirect("clients:ticket", ticket_id=ticket.pk)
        with_input = action in ("reply", "close", "priority", "assign_to")
        if action == "assign_to":
            form = assign_form = TicketAssignForm(request.POST, assignees=assignees)
        else:
            form = form_classes[action](request.POST if with_input else {})
        if action == "reply":
            reply_form = form
        elif action == "close":
            close_form = form
        elif action == "priority":
            priority_form = form
        response = form_action(
            request,
            form,
            lambda d: messages.success(request, _ticket_act(request, ticket, action, d)),
            success_url=reverse("clients:ticket", args=[ticket.pk]),
        )
        if response is not None:
            return response
        if action in ("assign", "unassign", "assign_to") and form.non_field_errors():
            # Those buttons have no field to show it next to.
            messages.error(request, form.non_field_errors()[0])
        status = 400
        ticket = _ticket_or_404(request, ticket_id)
    trail = audit_trail_for(ticket)
    other_tickets = (
        SupportTicket.objects.filter(client=ticket.client)
        .exclude(pk=ticket.pk)
        .order_by("-created_at")[:5]
    )
    return render(
        request,
        "clients/ticket.html",
        {
            "ticket": ticket,
            "client": ticket.client,
            "conversation": support_selectors.ticket_messages(ticket),
            "reply_form": reply_form,
            "close_form": close_form,
            "priority_form": priority_form,
            "assign_form": assign_form,
            "trail": trail,
            "other_tickets": other_tickets,
            "sees_client": _sees_clients(request.user),
        },
        status=status,
    )


def _ticket_act(request, ticket, action, data) -> str:
    user = request.user
    if action == "reply":
        support_services.ticket_reply(ticket=ticket, body=data["body"], actor=user)
        return "Reply sent: the client has an email with a link to the ticket."
    if action == "close":
        support_services.ticket_close(ticket=ticket, actor=user, reason=data["reason"])
        return "Ticket closed."
    if action == "priority":
        support_services.ticket_priority_set(ticket=ticket, priority=data["priority"], actor=user)
        return "Priority changed."
    if action == "assign":
        support_services.ticket_assign(ticket=ticket, assignee=user, actor=user)
        return "The ticket is yours."
    if action == "assign_to":
        assignee = data["assignee"]
        support_services.ticket_assign(ticket=ticket, assignee=assignee, actor=user)
        return f"Assigned to {assignee.get_full_name() or assignee.email}."
    support_services.ticket_assign(ticket=ticket, assignee=None, actor=user)
    return "The ticket is unassigned."
