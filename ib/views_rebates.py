"""A partner's rebates to its own clients (/partners/rebates/): the percent in force for all
its clients and per client, setting one, and the rebates paid."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError, NotAllowed
from brokerage.ids import parse_id

from .models import CommissionLine, Rebate
from .permissions import partner_required
from .rebates import own_client, rebate_set, rebates_in_force
from .selectors import masked_client, partner_clients

CHOICES = 500  # the clients offered in the form (the newest referred)


@partner_required
@require_http_methods(["GET", "POST"])
def rebates(request):
    partner = request.user.partner
    errors, status = {}, 200
    if request.method == "POST":
        raw = request.POST.get("client", "").strip()
        client = None
        if raw:
            client_id = parse_id(raw)
            client = own_client(partner, client_id) if client_id else None
            if client is None:
                errors["client"] = "Choose one of your own clients."
        if not errors:
            try:
                rebate_set(
                    partner=partner,
                    client=client,
                    percent=request.POST.get("percent", "")[:20],
                    actor=request.user,
                )
            except NotAllowed as exc:
                raise PermissionDenied(exc.message) from exc
            except DomainError as exc:
                errors = {field: msgs[0] for field, msgs in exc.fields.items()} or {
                    "percent": exc.message
                }
            else:
                messages.success(request, "Rebate saved: it applies from the next period close.")
                return redirect("partners:rebates")
        status = 400
    referrals = list(partner_clients(partner=partner)[:CHOICES])
    options = [(r.client_id, masked_client(r.client.user)) for r in referrals]
    names = dict(options)
    in_force = rebates_in_force([partner.pk], timezone.now() + timedelta(seconds=1))
    current = [
        {"client": names.get(client_id, "") if client_id else "", "percent": percent}
        for (_, client_id), percent in sorted(
            in_force.items(), key=lambda item: (item[0][1] is not None, item[0][1] or 0)
        )
        if percent
    ]
    paid = (
        CommissionLine.objects.filter(partner=partner, kind=CommissionLine.Kind.REBATE)
        .select_related("client__user", "period")
        .order_by("-deal_time")[:50]
    )
    history = Rebate.objects.filter(partner=partner).select_related("client__user")[:20]
    return render(
        request,
        "partners/rebates.html",
        {
            "options": options,
            "current": current,
            "paid": [(line, masked_client(line.client.user)) for line in paid],
            "history": [
                (row, masked_client(row.client.user) if row.client_id else "") for row in history
            ],
            "errors": errors,
            "form": request.POST if request.method == "POST" else {},
        },
        status=status,
    )
