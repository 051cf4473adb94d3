"""The Reports page (`/backoffice/reports/`): a staff member's scheduled reports (the dashboards
they subscribe to, daily or weekly, with their filters), the reports sent to them, a form to
subscribe to a dashboard their role may open, and "send me a preview now". Everything goes
through `brokerage.reports`, which checks and audits it."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import reports
from .errors import DomainError, NotAllowed
from .intl import country_choices
from .leadership import FILTER_LABELS, leadership_desks
from .models import Desk
from .models_reports import ReportSubscription
from .permissions import staff_required
from .rollups import filter_choices
from .teams import TEAMS
from .views import add_domain_error, form_action, paginate

PERMISSION = reports.PERMISSION


class ReportForm(forms.Form):
    dashboard = forms.ChoiceField()
    frequency = forms.ChoiceField(
        choices=ReportSubscription.Frequency.choices, initial=ReportSubscription.Frequency.DAILY
    )
    desk = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    country = forms.ChoiceField(required=False)
    psp = forms.ChoiceField(required=False, label="PSP")
    ib = forms.ChoiceField(required=False, label="IB")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dashboard"].choices = reports.dashboards_for(user)
        desks = leadership_desks(user)
        # Every desk where one of the user's dashboards offers every desk (finance, dealing).
        every = desks is None or any(
            slug in TEAMS and not TEAMS[slug].by_desk and "desk" in TEAMS[slug].filters
            for slug, _title in reports.dashboards_for(user)
        )
        desks = Desk.objects.order_by("name") if every else desks.order_by("name")
        self.fields["desk"].choices = [("", "Every desk" if every else "All my desks")] + [
            (d.pk, d.name) for d in desks
        ]
        self.fields["country"].choices = [("", "Every country"), *country_choices()]
        offered = filter_choices()
        self.fields["psp"].choices = [("", "Every PSP"), *offered.get("psp", [])]
        self.fields["ib"].choices = [("", "Every IB"), *offered.get("ib", [])]


def _page(request, form=None, status=200):
    user = request.user
    subs = list(reports.subscription_list(user=user))
    page, query = paginate(request, reports.send_list(user=user), 20)
    for send in page:
        send.title = reports.dashboard_title(send.subscription.dashboard)
    return render(
        request,
        "backoffice/reports.html",
        {
            "subscriptions": [
                {
                    "sub": s,
                    "title": reports.dashboard_title(s.dashboard),
                    "filters": reports.filters_in_words(s),
                    "open": reports.may_receive(user, s.dashboard),
                }
                for s in subs
            ],
            "page": page,
            "query": query,
            "form": form or ReportForm(user=user),
            "filters_of": [
                (
                    reports.dashboard_title(slug),
                    ", ".join(FILTER_LABELS[f] for f in reports.dashboard_filters(slug)) or "none",
                )
                for slug, _ in reports.dashboards_for(user)
            ],
        },
        status=status,
    )


@staff_required(PERMISSION)
def reports_page(request):
    """The page (GET); subscribe, or a preview of the choice (POST, `preview` set)."""
    if request.method != "POST":
        return _page(request)
    form = ReportForm(request.POST, user=request.user)
    preview = "preview" in request.POST
    service = reports.report_preview_send if preview else reports.report_subscribe
    done = form_action(
        request,
        form,
        lambda d: service(actor=request.user, request=request, **d),
        success_url=reverse("backoffice:reports"),
    )
    if done is None:
        return _page(request, form, status=400)
    messages.success(
        request,
        f"A preview is on its way to {request.user.email}."
        if preview
        else "Subscribed: the first report comes once its period has ended.",
    )
    return done


def _mine(request, pk: int) -> ReportSubscription:
    sub = reports.subscription_list(user=request.user).filter(pk=pk).first()
    if sub is None:
        raise Http404("You have no such subscription.")
    return sub


@staff_required(PERMISSION)
@require_POST
def report_end(request, pk: int):
    sub = _mine(request, pk)
    reports.report_unsubscribe(actor=request.user, subscription_id=sub.pk, request=request)
    messages.success(
        request, f"You no longer receive the {reports.dashboard_title(sub.dashboard)} report."
    )
    return redirect(reverse("backoffice:reports"))


@staff_required(PERMISSION)
@require_POST
def report_preview(request, pk: int):
    sub = _mine(request, pk)
    try:
        reports.report_preview_send(
            actor=request.user,
            dashboard=sub.dashboard,
            frequency=sub.frequency,
            desk=sub.desk_id,
            country=sub.country,
            psp=sub.psp,
            ib=sub.ib,
            request=request,
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        form = ReportForm(user=request.user)
        add_domain_error(form, exc)
        return _page(request, form, status=400)
    messages.success(request, f"A preview is on its way to {request.user.email}.")
    return redirect(reverse("backoffice:reports"))
