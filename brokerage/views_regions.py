"""The regions page (`/backoffice/regions/`): IB managers and compliance officers list the
regions with their countries by name, make one, and change a region's name and countries
(countries picked by name), reading its history. A change an app refuses (ib: a region a paid
plan version priced by) is shown on the form with the reason; nothing is saved."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from .intl import country_choices, country_name
from .models import Region
from .permissions import staff_required
from .regions import region_list, region_save
from .views import form_action

PERM = "brokerage.manage_regions"


def _country_field():
    return forms.MultipleChoiceField(
        choices=[(code, f"{name} ({code})") for code, name in country_choices()],
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text="Hold Ctrl (or Cmd) to pick several; on a phone, tap each country.",
    )


class RegionForm(forms.Form):
    code = forms.CharField(max_length=8, help_text="2-8 capital letters, digits, _ or -; fixed.")
    name = forms.CharField(max_length=100)
    countries = _country_field()


class RegionEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    countries = _country_field()


def _names(codes) -> list[str]:
    return sorted(country_name(c) for c in codes)


def _history(region: Region) -> list[dict]:
    """Each recorded state, newest first, with what changed from the one before."""
    records = list(region.history.order_by("history_date", "history_id"))
    rows, before = [], None
    for record in records:
        now = set(record.countries or [])
        rows.append(
            {
                "at": record.history_date,
                "by": record.updated_by_label or "—",
                "name": record.name,
                "kind": record.get_history_type_display(),
                "added": _names(now - before) if before is not None else _names(now),
                "removed": _names(before - now) if before is not None else [],
            }
        )
        before = now
    return rows[::-1]


@staff_required(PERM)
def regions(request):
    form = RegionForm(request.POST or None)
    if request.method == "POST":
        done = _save(request, form, None)
        if done:
            return done
    rows = [{"region": r, "countries": _names(r.countries)} for r in region_list()]
    return render(
        request,
        "backoffice/regions.html",
        {"form": form, "rows": rows},
        status=400 if request.method == "POST" else 200,
    )


@staff_required(PERM)
def region(request, pk: int):
    region = get_object_or_404(Region, pk=pk)
    initial = {"name": region.name, "countries": region.countries}
    form = RegionEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        done = _save(request, form, region)
        if done:
            return done
    return render(
        request,
        "backoffice/region.html",
        {
            "region": region,
            "form": form,
            "countries": _names(region.countries),
            "history": _history(region),
        },
        status=400 if request.method == "POST" else 200,
    )


def _save(request, form, region: Region | None):
    made = {}

    def action(data):
        made["region"] = region_save(
            actor=request.user,
            region=region,
            code=data.get("code", region.code if region else ""),
            name=data["name"],
            countries=data["countries"],
        )

    done = form_action(request, form, action, success_url=reverse("backoffice:regions"))
    if done:
        messages.success(request, f"Region {made['region'].code} saved.")
    return done
