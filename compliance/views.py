"""Compliance back-office pages: the lists (upload, snapshots, entries), name screening, and
the alert queue with each alert's decision."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from brokerage.errors import DomainError
from brokerage.permissions import staff_required
from brokerage.views import add_domain_error, paginate
from clients.access import personal_data_viewed
from clients.models import PersonalDataView

from . import selectors
from .forms import AlertDecisionForm, AlertFilterForm, ListUploadForm, ScreeningForm
from .imports import list_import_queue
from .matching import Query
from .models import Alert, AlertStatus, EntryKind, EntryName, ListSnapshot
from .permissions import PERM
from .screening import screen
from .services import (
    alert_block_lift,
    alert_confirm,
    alert_dismiss,
    needs_four_eyes,
)

HOW = {
    "exact": "Same",
    "initial": "Initial",
    "phonetic": "Sounds alike",
    "fuzzy": "Close spelling",
}


def breakdown_shown(breakdown: dict) -> dict:
    """A score's breakdown as pages show it: how each token matched in words."""
    return {
        **breakdown,
        "tokens": [{**t, "how_label": HOW.get(t["how"], t["how"])} for t in breakdown["tokens"]],
        "name_pct": round(100 * breakdown["name_score"]),
    }


def _shown(hit) -> dict:
    """A hit as the page shows it: percentages and labels, never raw codes."""
    return {
        "list": hit.list,
        "list_name": hit.list_name,
        "entry_id": hit.entry_id,
        "matched_name": hit.matched_name,
        "primary_name": hit.primary_name,
        "kind_label": EntryKind(hit.kind).label,
        "score": hit.score,
        "score_pct": round(100 * hit.score),
        "threshold_pct": round(100 * hit.threshold),
        "breakdown": breakdown_shown(hit.breakdown),
    }


@staff_required(PERM)
def lists(request):
    form = ListUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job = list_import_queue(
            fmt=data["format"],
            files=[(f.name, f.read()) for f in data["files"]],
            actor=request.user,
            list_code=data["list_code"] or "",
            list_name=data["list_name"] or "",
            mapping=data["mapping"],
        )
        messages.success(
            request,
            f"The import runs in the background (import #{job.pk}); its progress shows below, "
            "and a file that cannot be read is named there with the line or element.",
        )
        return redirect(f"{reverse('compliance:lists')}?import={job.pk}")
    page, query = paginate(request, selectors.snapshot_list())
    return render(
        request,
        "compliance/lists.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "sources": selectors.list_source_list(),
            **_jobs(),
        },
        status=400 if form.errors else 200,
    )


@staff_required(PERM)
def jobs(request):
    """The re-screens' progress, polled by the lists page while one runs."""
    return render(request, "compliance/_jobs.html", _jobs())


def _jobs() -> dict:
    jobs = selectors.job_list()
    return {"jobs": jobs, "jobs_running": any(j.running for j in jobs)}


@staff_required(PERM)
def snapshot_detail(request, snapshot_id):
    try:
        snapshot = selectors.snapshot_get(snapshot_id)
    except ListSnapshot.DoesNotExist:
        raise Http404("No such snapshot.") from None
    q = request.GET.get("q", "").strip()[:200]
    kind = request.GET.get("kind", "")
    kind = kind if kind in EntryKind.values else ""
    entries = selectors.snapshot_entry_list(snapshot, q=q, kind=kind).prefetch_related(
        Prefetch("names", queryset=EntryName.objects.filter(is_primary=False)),
        "birth_dates",
        "countries",
    )
    page, query = paginate(request, entries)
    return render(
        request,
        "compliance/snapshot.html",
        {
            "snapshot": snapshot,
            "page": page,
            "query": query,
            "q": q,
            "kind": kind,
            "kinds": EntryKind.choices,
        },
    )


@staff_required(PERM)
def screening(request):
    form = ScreeningForm(request.GET or None)
    hits = None
    if request.GET and form.is_valid():
        data = form.cleaned_data
        hits = screen(
            [
                Query(
                    name=data["name"],
                    dob=data["dob"],
                    nationality=data["nationality"],
                    gender=data["gender"],
                    kind=data["kind"],
                )
            ]
        )[0]
    return render(
        request,
        "compliance/screening.html",
        {"form": form, "hits": [_shown(h) for h in hits] if hits is not None else None},
        status=400 if form.errors else 200,
    )


@staff_required(PERM)
def alerts(request):
    sources = [(s.code, s.name) for s in selectors.list_source_list()]
    bands = [(code, label) for code, label, _low, _below in selectors.SCORE_BANDS]
    form = AlertFilterForm(
        request.GET or None,
        statuses=selectors.STATUS_FILTERS,
        sources=sources,
        bands=bands,
        initial={"status": "undecided"},
    )
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or "undecided"
    page, query = paginate(
        request,
        selectors.alert_list(
            status=status,
            source=data.get("source", ""),
            band=data.get("band", ""),
            q=(data.get("q") or "").strip(),
        ),
    )
    now = timezone.now()
    for alert in page:
        alert.age_days = (now - alert.created_at).days
        alert.score_pct = round(100 * alert.score)
    return render(
        request,
        "compliance/alerts.html",
        {"form": form, "page": page, "query": query, "status": status},
    )


ACTIONS = {
    "confirm": lambda alert, user, reason: alert_confirm(alert=alert, actor=user, reason=reason),
    "dismiss": lambda alert, user, reason: alert_dismiss(alert=alert, actor=user, reason=reason),
    "approve": lambda alert, user, reason: alert_dismiss(alert=alert, actor=user, reason=reason),
    "lift": lambda alert, user, reason: alert_block_lift(alert=alert, actor=user, reason=reason),
}
DONE = {
    "confirm": "Confirmed as a true match: the client is blocked until compliance lifts it.",
    "dismiss": "Dismissed as a false positive.",
    "approve": "Dismissal approved.",
    "lift": "Block lifted.",
}


@staff_required(PERM)
def alert_detail(request, alert_id):
    try:
        alert = selectors.alert_get(alert_id)
    except Alert.DoesNotExist:
        raise Http404("No such alert.") from None
    form = AlertDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = form.cleaned_data["action"]
        try:
            alert = ACTIONS[action](alert, request.user, form.cleaned_data["reason"])
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            done = DONE[action]
            if action == "dismiss" and alert.status == AlertStatus.DISMISSAL_PROPOSED:
                done = "Dismissal proposed: a second compliance officer approves it."
            messages.success(request, done)
            return redirect("compliance:alert", alert.pk)
    entry = alert.entry
    if alert.client_id:
        personal_data_viewed(
            request=request,
            client_id=alert.client_id,
            what=PersonalDataView.What.SCREENING_ALERT,
            detail=f"alert {alert.pk}",
        )
    return render(
        request,
        "compliance/alert.html",
        {
            "alert": alert,
            "form": form,
            "action": form.data.get("action", "") if form.is_bound else "",
            "score_pct": round(100 * alert.score),
            "breakdown": breakdown_shown(alert.breakdown),
            "subject": selectors.subject_details(alert.client),
            "entry": entry,
            "entry_names": entry.names.order_by("-is_primary", "name"),
            "four_eyes": needs_four_eyes(alert),
            "may_approve": alert.status == AlertStatus.DISMISSAL_PROPOSED
            and alert.proposed_by_id != request.user.pk,
        },
        status=400 if form.errors else 200,
    )
