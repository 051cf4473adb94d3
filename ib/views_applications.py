"""How partners join, in the back office (IB managers): the queue of applications (approve,
optionally with a plan, or reject with a reason) and the partner agreement's versions, with
who accepted which version when."""

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods

from brokerage.intl import country_choices, language_choices
from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate

from .forms_onboarding import AgreementPublishForm, ApplicationApproveForm, ApplicationRejectForm
from .models import AgreementAcceptance, Partner, PartnerAgreement, PartnerApplication
from .onboarding import agreement_publish, application_approve, application_reject

MANAGE = "ib.manage_commissions"
STATES = [
    ("pending", "Awaiting approval"),
    ("decided", "Decided"),
    ("all", "All"),
]


@staff_required(MANAGE)
def applications(request):
    state = request.GET.get("state", "pending")
    state = state if state in dict(STATES) else "pending"
    rows = PartnerApplication.objects.select_related(
        "partner__user", "partner__parent", "programme"
    ).order_by("-submitted_at")
    if state == "pending":
        rows = rows.filter(partner__status=Partner.Status.PENDING)
    elif state == "decided":
        rows = rows.exclude(partner__status=Partner.Status.PENDING)
    page, query = paginate(request, rows)
    return render(
        request,
        "ib/applications.html",
        {"page": page, "query": query, "state": state, "states": STATES},
    )


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def application(request, application_id: int):
    app = get_object_or_404(
        PartnerApplication.objects.select_related(
            "partner__user", "partner__parent", "partner__holder", "programme", "invitation"
        ),
        pk=application_id,
    )
    forms = {
        "approve_form": ApplicationApproveForm(prefix="approve", programme=app.programme),
        "reject_form": ApplicationRejectForm(prefix="reject"),
    }
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "approve":
            form = ApplicationApproveForm(request.POST, prefix="approve", programme=app.programme)
            forms["approve_form"] = form
            run = lambda c: application_approve(  # noqa: E731
                application=app, plan=c["plan"], reason=c["reason"], actor=request.user
            )
            done = "Approved: the partner is active and told by email."
        elif action == "reject":
            form = ApplicationRejectForm(request.POST, prefix="reject")
            forms["reject_form"] = form
            run = lambda c: application_reject(  # noqa: E731
                application=app, reason=c["reason"], actor=request.user
            )
            done = "Rejected: the applicant is told by email, with the reason."
        else:
            form, run = None, None
            messages.error(request, "Choose approve or reject.")
        if form is not None:
            url = reverse("ib:application", args=[app.pk])
            response = form_action(request, form, run, success_url=url)
            if response is not None:
                messages.success(request, done)
                return response
            if form.non_field_errors():
                messages.error(request, " ".join(form.non_field_errors()))
        status = 400
        app.partner.refresh_from_db()
    holder = app.partner.holder
    acceptances = AgreementAcceptance.objects.filter(partner=app.partner).select_related(
        "agreement__programme"
    )
    return render(
        request,
        "ib/application.html",
        {
            "app": app,
            "partner": app.partner,
            "acceptances": acceptances,
            "country": dict(country_choices()).get(holder.country, "—") if holder else "—",
            "language": dict(language_choices()).get(holder.language, "—") if holder else "—",
            "email_verified": EmailAddress.objects.filter(
                user_id=app.partner.user_id, verified=True
            ).exists(),
            "earlier": [
                {
                    **round_,
                    "submitted_at": parse_datetime(round_["submitted_at"]),
                    "decided_at": parse_datetime(round_["decided_at"]),
                }
                for round_ in reversed(app.earlier)
            ],
            **forms,
        },
        status=status,
    )


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def agreements(request):
    form, status = AgreementPublishForm(), 200
    if request.method == "POST":
        form = AgreementPublishForm(request.POST)
        response = form_action(
            request,
            form,
            lambda c: agreement_publish(
                programme=c["programme"], text=c["text"], actor=request.user
            ),
            success_url=reverse("ib:agreements"),
        )
        if response is not None:
            messages.success(request, "Published: partners accept it before their next visit.")
            return response
        status = 400
    versions = (
        PartnerAgreement.objects.select_related("programme")
        .annotate(accepted=Count("acceptances"))
        .order_by("programme__name", "-version")[:100]
    )
    page, query = paginate(
        request,
        AgreementAcceptance.objects.select_related(
            "partner__user", "agreement__programme"
        ).order_by("-accepted_at"),
        50,
    )
    return render(
        request,
        "ib/agreements.html",
        {"form": form, "versions": versions, "page": page, "query": query},
        status=status,
    )
