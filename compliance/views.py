"""Compliance back-office pages: the lists (upload, snapshots, entries) and name screening."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render

from brokerage.errors import DomainError
from brokerage.permissions import staff_required
from brokerage.views import add_domain_error, paginate

from . import selectors
from .forms import ListUploadForm, ScreeningForm
from .matching import Query
from .models import EntryKind, EntryName, ListSnapshot
from .screening import screen
from .services import snapshot_import

PERM = "compliance.manage_screening"
HOW = {
    "exact": "Same",
    "initial": "Initial",
    "phonetic": "Sounds alike",
    "fuzzy": "Close spelling",
}


def _shown(hit) -> dict:
    """A hit as the page shows it: percentages and labels, never raw codes."""
    breakdown = dict(hit.breakdown)
    breakdown["tokens"] = [
        {**t, "how_label": HOW.get(t["how"], t["how"])} for t in hit.breakdown["tokens"]
    ]
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
        "name_pct": round(100 * hit.breakdown["name_score"]),
        "breakdown": breakdown,
    }


@staff_required(PERM)
def lists(request):
    form = ListUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            snapshot = snapshot_import(
                fmt=data["format"],
                files=[(f.name, f.read()) for f in data["files"]],
                actor=request.user,
                list_code=data["list_code"] or "",
                list_name=data["list_name"] or "",
                mapping=data["mapping"].mapping if data["mapping"] else None,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"{snapshot.source.name}: {snapshot.entry_count} entries imported "
                f"({snapshot.added_count} added, {snapshot.changed_count} changed, "
                f"{snapshot.removed_count} removed).",
            )
            return redirect("compliance:snapshot", snapshot.pk)
    page, query = paginate(request, selectors.snapshot_list())
    return render(
        request,
        "compliance/lists.html",
        {"form": form, "page": page, "query": query, "sources": selectors.list_source_list()},
        status=400 if form.errors else 200,
    )


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
