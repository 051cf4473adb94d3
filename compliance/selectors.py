"""Compliance reads: list sources, snapshots and their entries (compliance officers see all
lists; there is no per-object scoping below the role)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import EntryName, ListEntry, ListSnapshot, ListSource


def list_source_list() -> QuerySet[ListSource]:
    return ListSource.objects.order_by("name")


def snapshot_list() -> QuerySet[ListSnapshot]:
    return ListSnapshot.objects.select_related("source", "imported_by").order_by(
        "-imported_at", "-pk"
    )


def snapshot_get(pk: int) -> ListSnapshot:
    return ListSnapshot.objects.select_related("source", "imported_by", "previous").get(pk=pk)


def snapshot_entry_list(snapshot: ListSnapshot, *, q: str = "", kind: str = "") -> QuerySet:
    """The snapshot's entries, searched by any of their names or their list id."""
    entries = ListEntry.objects.filter(snapshot=snapshot).order_by("primary_name", "pk")
    if kind:
        entries = entries.filter(kind=kind)
    if q:
        names = EntryName.objects.filter(entry=OuterRef("pk"), name__icontains=q)
        entries = entries.filter(Q(list_id__iexact=q) | Exists(names))
    return entries
