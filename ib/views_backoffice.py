"""The IB business in the back office (/backoffice/ib/, IB managers): partners with their
figures, a partner's network, plans, lines and statements; commission periods; unpriced deals;
disputes (recompute, reject, adjust, four eyes) and withheld lines (release, cancel)."""

from datetime import datetime
from decimal import ROUND_HALF_UP

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.ids import parse_id
from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate
from clients.access import personal_data_viewed
from clients.models import PersonalDataView
from clients.selectors import client_activity_list

from .disputes import (
    dispute_adjust,
    dispute_approve,
    dispute_recompute,
    dispute_reject,
    lines_cancel,
    lines_release,
    recomputed_rows,
    threshold,
)
from .forms_disputes import (
    DisputeAdjustForm,
    DisputeApproveForm,
    DisputeRecomputeForm,
    DisputeRejectForm,
    WithheldDecisionForm,
)
from .forms_partners import (
    ClientMoveForm,
    PartnerMoveForm,
    PlanAttachForm,
    TokenRevokeForm,
    WalletCurrencyForm,
)
from .fraud import signal_label
from .models import (
    AgreementAcceptance,
    CommissionDispute,
    CommissionLine,
    CommissionPeriod,
    Partner,
    PartnerPlan,
    PartnerStatement,
    Programme,
)
from .periods import CENT, period_close
from .permissions import actor_label
from .plans import partner_parent_set, partner_plan_set
from .selectors import (
    disputes_queue,
    partner_attribution_history,
    partner_chain,
    partner_earnings,
    partner_lines,
    partner_network,
    partner_parent_history,
    partner_review_counts,
    partners_overview,
    unpriced_deals,
    withheld_by_signal,
    withheld_lines,
)
from .services import referral_move
from .tokens import partner_token_revoke, partner_tokens
from .wallets import partner_wallet_currency_set

MANAGE = "ib.manage_commissions"
COMMUNICATIONS = 30  # the partner's latest emails and notes on its page


@staff_required(MANAGE)
def partners(request):
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(request, partners_overview(q=q))
    return render(
        request,
        "ib/partners.html",
        {"page": page, "query": query, "q": q, "unpriced": unpriced_deals().count()},
    )


# action: (form, its name in the page, the service, what the manager is told). Each form's
# fields are the service's arguments; the partner page's partner is the one acted on, except
# that a re-attributed client goes to the partner the form names.
PARTNER_ACTIONS = {
    "move": (PartnerMoveForm, "move_form", partner_parent_set, "The partner is moved."),
    "plan": (PlanAttachForm, "plan_form", partner_plan_set, "The plan is attached."),
    "client": (ClientMoveForm, "client_form", referral_move, "The client is re-attributed."),
    "wallet": (
        WalletCurrencyForm,
        "wallet_form",
        partner_wallet_currency_set,
        "The wallet currency is set: the next period settles in it.",
    ),
    "token": (
        TokenRevokeForm,
        "token_form",
        partner_token_revoke,
        "The token is revoked: it no longer works.",
    ),
}


def _partner_action(request, p: Partner, action: str):
    """Run one IB manager action on the partner page: the response, or the bound form."""
    form_class, name, service, done = PARTNER_ACTIONS[action]
    form = form_class(request.POST, prefix=action)

    def run(cleaned):
        service(**{"partner": p, **cleaned}, actor=request.user)

    url = reverse("ib:partner", args=[p.pk]) + f"#{action}"
    response = form_action(request, form, run, success_url=url)
    if response is not None:
        messages.success(request, done)
    return response, {name: form}


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def partner(request, partner_id: int):
    p = get_object_or_404(Partner.objects.select_related("user", "parent", "holder"), pk=partner_id)
    forms, status = {}, 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in PARTNER_ACTIONS:
            messages.error(request, "Choose an action.")
            status = 400
        else:
            response, forms = _partner_action(request, p, action)
            if response is not None:
                return response
            status = 400
            p = Partner.objects.select_related("user", "parent", "holder").get(pk=p.pk)
    page, query = paginate(request, partner_lines(partner=p), 50)
    context = {
        "partner": p,
        "chain": partner_chain(p),
        "subs": partner_network(partner=p)[:50],
        "plans": PartnerPlan.objects.filter(partner=p).select_related("plan")[:20],
        "statements": PartnerStatement.objects.filter(partner=p).select_related("period")[:24],
        "earnings": partner_earnings(partner=p),
        "review": partner_review_counts(partner=p),
        "parents": partner_parent_history(p),
        "moves": partner_attribution_history(p),
        "acceptances": AgreementAcceptance.objects.filter(partner=p)
        .select_related("agreement__programme")
        .order_by("-accepted_at")[:20],
        "move_form": PartnerMoveForm(prefix="move"),
        "plan_form": PlanAttachForm(prefix="plan"),
        "client_form": ClientMoveForm(prefix="client"),
        "token_form": TokenRevokeForm(prefix="token"),
        "wallet_form": WalletCurrencyForm(prefix="wallet", initial={"currency": p.wallet_currency}),
        "tokens": partner_tokens(partner=p)[:20],
        "communications": client_activity_list(client=p.holder, limit=COMMUNICATIONS),
        "page": page,
        "query": query,
        **forms,
    }
    if p.holder_id:  # the partner's personal data (email, payout account, emails sent)
        personal_data_viewed(
            request=request,
            client_id=p.holder_id,
            what=PersonalDataView.What.PARTNER,
            detail=f"partner {p.referral_code}",
        )
    return render(request, "ib/partner.html", context, status=status)


def _moment(text: str):
    try:
        return timezone.make_aware(datetime.fromisoformat(text.strip()))
    except (ValueError, AttributeError):
        return None


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def periods(request):
    errors = {}
    if request.method == "POST":
        raw = request.POST.get("programme", "")
        programme = (
            Programme.objects.filter(pk=int(raw)).first()
            if raw.isdigit() and len(raw) < 10
            else None
        )
        start, end = _moment(request.POST.get("start", "")), _moment(request.POST.get("end", ""))
        if programme is None:
            errors["programme"] = "Choose a programme."
        if start is None:
            errors["start"] = "A date like 2026-11-01."
        if end is None:
            errors["end"] = "A date like 2026-12-01."
        if not errors:
            try:
                period = period_close(programme=programme, start=start, end=end, actor=request.user)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    f"Closed {period}: {period.lines} lines, "
                    f"{period.statements.count()} statements settled.",
                )
                return redirect("ib:periods")
    page, query = paginate(
        request,
        CommissionPeriod.objects.select_related("programme").order_by("-end"),
    )
    return render(
        request,
        "ib/periods.html",
        {
            "page": page,
            "query": query,
            "programmes": Programme.objects.all(),
            "errors": errors,
            "form": request.POST if request.method == "POST" else {},
        },
    )


@staff_required(MANAGE)
def unpriced(request):
    page, query = paginate(request, unpriced_deals(), 50)
    return render(request, "ib/unpriced.html", {"page": page, "query": query})


# --- Disputes and withheld lines ----------------------------------------------------------------


@staff_required(MANAGE)
def disputes(request):
    status = request.GET.get("status", "")
    partner_id = parse_id(request.GET.get("partner", ""))
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(request, disputes_queue(status=status, partner_id=partner_id, q=q))
    return render(
        request,
        "ib/disputes.html",
        {
            "page": page,
            "query": query,
            "status": status,
            "partner_id": partner_id,
            "q": q,
            "statuses": CommissionDispute.Status.choices,
            "partners": Partner.objects.filter(disputes__isnull=False)
            .select_related("user")
            .distinct()
            .order_by("company_name", "user__email")[:200],
        },
    )


def _dispute_context(dispute: CommissionDispute, user, **forms) -> dict:
    line = dispute.line
    stored = list(
        CommissionLine.objects.filter(deal_id=line.deal_id, partner_id=line.partner_id)
        .exclude(deal_id=None)
        .order_by("tier", "kind")
    )
    adjustments = list(
        CommissionLine.objects.filter(reverses=line, kind=CommissionLine.Kind.ADJUSTMENT)
    )
    kept = recomputed_rows(dispute)  # made when it was opened, or on demand: never per view
    again = kept or []
    rows = {}
    for s in stored:
        if s.kind == CommissionLine.Kind.COMMISSION:
            rows.setdefault(s.tier, {"tier": s.tier})["stored"] = s
    for r in again:
        rows.setdefault(r["tier"], {"tier": r["tier"]})["again"] = r
    for row in rows.values():
        have, want = row.get("stored"), row.get("again")
        row["difference"] = (want["amount"] if want else 0) - (have.amount if have else 0)
    suggested = ""
    mine = rows.get(line.tier)
    if line.kind == CommissionLine.Kind.COMMISSION and mine and mine.get("again"):
        owed = mine["again"]["amount"] - line.amount - sum(a.amount for a in adjustments)
        owed = owed.quantize(CENT, ROUND_HALF_UP)
        suggested = f"{owed:f}" if owed else ""
    forms.setdefault("reject_form", DisputeRejectForm(prefix="reject"))
    forms.setdefault(
        "adjust_form", DisputeAdjustForm(prefix="adjust", initial={"amount": suggested})
    )
    return {
        "dispute": dispute,
        "line": line,
        "deal": line.deal,
        "comparison": [rows[t] for t in sorted(rows)],
        "recomputed": bool(line.deal_id),
        "recompute_missing": bool(line.deal_id) and kept is None,
        "adjustments": adjustments,
        "others": CommissionDispute.objects.filter(line=line).exclude(pk=dispute.pk),
        "threshold": threshold(),
        "own_proposal": dispute.proposed_by == actor_label(user),
        **forms,
    }


DISPUTE_ACTIONS = {
    "recompute": (DisputeRecomputeForm, "recompute_form", "Recomputed now."),
    "reject": (DisputeRejectForm, "reject_form", "Dispute rejected: the partner is told."),
    "adjust": (DisputeAdjustForm, "adjust_form", "Adjustment recorded."),
    "approve": (DisputeApproveForm, "approve_form", "Adjustment approved and written."),
}


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def dispute(request, dispute_id: int):
    d = get_object_or_404(
        CommissionDispute.objects.select_related(
            "partner__user", "line__deal", "line__client__user", "line__version__plan", "adjustment"
        ),
        pk=dispute_id,
    )
    if request.method == "GET":
        return render(request, "ib/dispute.html", _dispute_context(d, request.user))
    action = request.POST.get("action", "")
    if action not in DISPUTE_ACTIONS:
        messages.error(request, "Choose recompute, reject, adjust or approve.")
        return render(request, "ib/dispute.html", _dispute_context(d, request.user), status=400)
    form_class, name, done = DISPUTE_ACTIONS[action]
    form = form_class(request.POST, prefix=None if action in ("approve", "recompute") else action)
    services = {
        "recompute": lambda c: dispute_recompute(dispute=d, actor=request.user),
        "reject": lambda c: dispute_reject(dispute=d, reason=c["reason"], actor=request.user),
        "adjust": lambda c: dispute_adjust(
            dispute=d, amount=c["amount"], reason=c["reason"], actor=request.user
        ),
        "approve": lambda c: dispute_approve(dispute=d, actor=request.user),
    }
    response = form_action(
        request, form, services[action], success_url=reverse("ib:dispute", args=[d.pk])
    )
    if response is not None:
        d.refresh_from_db()
        if d.status == CommissionDispute.Status.AWAITING_APPROVAL:
            done = "Above the threshold: the adjustment waits for another IB manager's approval."
        messages.success(request, done)
        return response
    if form.non_field_errors():
        messages.error(request, " ".join(form.non_field_errors()))
    d.refresh_from_db()
    return render(
        request, "ib/dispute.html", _dispute_context(d, request.user, **{name: form}), status=400
    )


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def withheld(request):
    form, status = WithheldDecisionForm(), 200
    if request.method == "POST":
        form, done = WithheldDecisionForm(request.POST), {}

        def decide(c):
            decide_lines = lines_release if c["decision"] == "release" else lines_cancel
            done["n"] = decide_lines(line_ids=c["line_ids"], reason=c["reason"], actor=request.user)

        response = form_action(request, form, decide, success_url=request.get_full_path())
        if response is not None:
            verb = "released" if form.cleaned_data["decision"] == "release" else "cancelled"
            messages.success(request, f"{done['n']} line(s) {verb}.")
            return response
        status = 400
    partner_id = parse_id(request.GET.get("partner", ""))
    code = request.GET.get("code", "").strip()[:64]
    page, query = paginate(request, withheld_lines(partner_id=partner_id, code=code), 50)
    return render(
        request,
        "ib/withheld.html",
        {
            "page": page,
            "query": query,
            "partner_id": partner_id,
            "code": code,
            "codes": [(c, signal_label(c)) for c in sorted(withheld_by_signal())],
            "partners": Partner.objects.filter(
                pk__in=CommissionLine.objects.filter(status=CommissionLine.Status.WITHHELD)
                .values("partner_id")
                .distinct()
            )
            .select_related("user")
            .order_by("company_name", "user__email")[:200],
            "form": form,
            "ticked": set(form.line_ids),
        },
        status=status,
    )
