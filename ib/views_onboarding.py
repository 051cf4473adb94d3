"""How partners join, in the browser: the partner's sign-up (/partners/signup/, or through an
invitation link /partners/join/<token>/), its application's page, the agreement to accept,
and the invitations a partner makes for its sub-IBs."""

from allauth.account.views import SignupView
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from brokerage.errors import DomainError
from brokerage.views import add_domain_error, form_action

from .forms_onboarding import AgreementAcceptForm, InvitationForm, PartnerSignupForm, ReapplyForm
from .models import Partner, PartnerApplication, PartnerInvitation
from .onboarding import (
    INVITATION_DAYS,
    agreement_accept,
    agreement_due,
    invitation_create,
    invitation_find,
    invitation_url,
    invitation_withdraw,
    partner_reapply,
    public_programmes,
    reapply_from,
)
from .permissions import partner_only, partner_required


class PartnerSignupView(SignupView):
    """allauth's sign-up (email verification, rate limits, enumeration safety) with the
    partner's own form: the account made is a partner-to-be, never a trading client."""

    template_name = "partners/signup.html"
    form_class = PartnerSignupForm

    def dispatch(self, request, *args, **kwargs):
        self.token = kwargs.get("token", "")
        self.invitation = invitation_find(self.token) if self.token else None
        closed = self.invitation is None if self.token else not public_programmes().exists()
        if closed and not request.user.is_authenticated:
            return render(
                request,
                "partners/signup_closed.html",
                {"invited": bool(self.token)},
                status=404,
            )
        return super().dispatch(request, *args, **kwargs)

    def get_form_class(self):
        return self.form_class

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "invitation": self.invitation, "token": self.token}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "invitation": self.invitation}

    def form_valid(self, form):
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except DomainError as exc:  # e.g. the invitation used up a moment ago
            add_domain_error(form, exc)
            return self.form_invalid(form)


partner_signup = PartnerSignupView.as_view()


@partner_only
@require_http_methods(["GET", "POST"])
def application(request):
    """An applicant's page: awaiting approval, or rejected with the reason (and, once
    `PARTNER_REAPPLY_DAYS` have passed, a form to apply again)."""
    partner = request.user.partner
    if partner.status not in (Partner.Status.PENDING, Partner.Status.REJECTED):
        return redirect("partners:home")
    found = PartnerApplication.objects.filter(partner=partner).select_related("programme").first()
    since = reapply_from(found) if found else None
    can_reapply = since is not None and timezone.now() >= since
    due = agreement_due(partner) if can_reapply else None
    form, status = None, 200
    if can_reapply:
        form = ReapplyForm(request.POST or None, agreement=due)
        if request.method == "POST":
            response = form_action(
                request,
                form,
                lambda c: partner_reapply(partner=partner, profile=c, request=request),
                success_url=reverse("partners:application"),
            )
            if response is not None:
                messages.success(request, "Your application is sent again: we will email you.")
                return response
            status = 400
    elif request.method == "POST":
        return redirect("partners:application")
    return render(
        request,
        "partners/application.html",
        {
            "partner": partner,
            "application": found,
            "reapply_from": since,
            "form": form,
            "agreement": due,
        },
        status=status,
    )


@partner_only
@require_http_methods(["GET", "POST"])
def agreement(request):
    """The agreement version in force the partner has not accepted yet."""
    partner = request.user.partner
    due = agreement_due(partner)
    if due is None:
        return redirect("partners:home")
    form, status = AgreementAcceptForm(), 200
    if request.method == "POST":
        form = AgreementAcceptForm(request.POST)
        response = form_action(
            request,
            form,
            lambda c: agreement_accept(
                partner=partner, agreement=due, actor=request.user, request=request
            ),
            success_url=reverse("partners:home"),
        )
        if response is not None:
            messages.success(request, f"You accepted the partner agreement, version {due.version}.")
            return response
        status = 400
    return render(
        request, "partners/agreement.html", {"agreement": due, "form": form}, status=status
    )


@partner_required
@require_http_methods(["GET", "POST"])
def invitations(request):
    """The partner invites sub-IBs: a link shown once (or emailed), used once, expiring."""
    partner = request.user.partner
    form, status, made = InvitationForm(), 200, None
    if request.method == "POST":
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation, token = invitation_create(
                    inviter=partner,
                    actor=request.user,
                    email=form.cleaned_data["email"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = 400
            else:
                made = {"invitation": invitation, "url": invitation_url(token)}
                form = InvitationForm()
        else:
            status = 400
    rows = list(
        PartnerInvitation.objects.filter(inviter=partner)
        .select_related("used_by__user")
        .order_by("-created_at")[:50]
    )
    now = timezone.now()
    return render(
        request,
        "partners/invitations.html",
        {
            "form": form,
            "made": made,
            "rows": [(i, i.state(now)) for i in rows],
            "days": INVITATION_DAYS,
        },
        status=status,
    )


@partner_required
@require_POST
def invitation_withdraw_view(request, invitation_id: int):
    invitation = get_object_or_404(
        PartnerInvitation, pk=invitation_id, inviter=request.user.partner
    )
    try:
        invitation_withdraw(invitation=invitation, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("partners:invitations")
