"""The leadership workspace: the back-office home of the roles that lead (desk managers for
their desks, executives for every desk), drawn from the apps' rollups (brokerage.rollups).

The filter comes from the query string and is checked here: a bad date, a range the wrong way
round or too long, a desk the user does not lead, an unknown country, PSP or IB is a field
error shown above the figures, which then show the default period; nothing fails."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils import timezone

from .intl import country_choices
from .models import Desk
from .rollups import Figure, Filter, filter_choices, leadership_answer
from .teams import Team, team_answer

DEFAULT_DAYS = 30
MAX_DAYS = 366
GROUPS = [
    ("funnel", "Funnel"),
    ("money", "Money"),
    ("trading", "Trading"),
    ("retention", "Retention"),
    ("ib", "IB quality"),
    # the team dashboards' groups (brokerage.teams)
    ("contact", "First contact"),
    ("psp", "PSPs"),
    ("queues", "Queues"),
    ("exposure", "Exposure"),
]
FILTER_LABELS = {"desk": "desk", "country": "country", "psp": "PSP", "ib": "IB"}


def leadership_desks(user):
    """The desks whose figures `user` sees: None for every desk (and clients on none), else
    the desks they manage or sit on."""
    if user.is_superuser or user.has_perm("brokerage.view_all_figures"):
        return None
    return Desk.objects.filter(Q(manager=user) | Q(members__user=user)).distinct()


class LeadershipFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    desk = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    country = forms.ChoiceField(required=False)
    psp = forms.ChoiceField(required=False, label="PSP")
    ib = forms.ChoiceField(required=False, label="IB")

    def __init__(self, *args, desks, every_desk: bool, choices, offered=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("desk", "country", "psp", "ib"):
            if offered is not None and name not in offered:
                del self.fields[name]  # a team page offers the filters its figures honour
        choices = {
            "desk": [("", "Every desk" if every_desk else "My desks")]
            + [(d.pk, d.name) for d in desks],
            "country": [("", "Every country"), *country_choices()],
            "psp": [("", "Every PSP"), *choices.get("psp", [])],
            "ib": [("", "Every IB"), *choices.get("ib", [])],
        }
        for name, values in choices.items():
            if name in self.fields:
                self.fields[name].choices = values

    def clean(self):
        data = super().clean()
        today = timezone.now().date()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            self.add_error("end", "The end is before the start.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.add_error("start", f"Choose at most {MAX_DAYS} days.")
        else:
            data["start"], data["end"] = start, end
        return data


def leadership_filter_form(user, params, team: Team | None = None):
    """The filter form of the workspace (or `team`'s dashboard) as `user` gets it, bound to
    `params`, and the desks `user` is limited to (None: every desk)."""
    desks = leadership_desks(user) if team is None or team.by_desk else None
    desk_list = None if desks is None else list(desks)
    offered = None if team is None else team.filters
    choices = filter_choices() if offered is None or {"psp", "ib"} & set(offered) else {}
    every = desks is None
    shown = list(Desk.objects.order_by("name")) if every else desk_list
    if offered is not None and "desk" not in offered:
        shown = []
    form = LeadershipFilterForm(
        params, desks=shown, every_desk=every, choices=choices, offered=offered
    )
    return form, desk_list


def leadership_context(user, params, team: Team | None = None) -> dict:
    """What the workspace (or `team`'s dashboard) shows `user` for the query string
    `params`."""
    form, desk_list = leadership_filter_form(user, params, team)
    today = timezone.now().date()
    flt = Filter(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)
    if desk_list is not None:
        flt = Filter(flt.start, flt.end, desk_ids=tuple(d.pk for d in desk_list))
    if form.is_valid():
        d = form.cleaned_data
        desk_ids = (d["desk"],) if d.get("desk") else flt.desk_ids
        flt = Filter(
            start=d["start"],
            end=d["end"],
            desk_ids=desk_ids,
            country=d.get("country") or "",
            psp=d.get("psp") or "",
            ib=d.get("ib") or "",
        )
    answer = leadership_answer(flt, user) if team is None else team_answer(team.slug, flt, user)
    groups = []
    for key, label in GROUPS:
        figures = [f for f in answer.figures if f.group == key]
        if figures:
            groups.append({"key": key, "label": label, "figures": [_card(f) for f in figures]})
    return {
        "form": form,
        "flt": flt,
        "groups": groups,
        "charts": answer.charts,
        "charts_json": [c.__dict__ for c in answer.charts],
        "tables": [_table(t) for t in answer.tables],
        "answer_tables": answer.tables,
        "previous": flt.previous,
        "team": team,
    }


def _ignored(names) -> str:
    return ", ".join(FILTER_LABELS[n] for n in names)


def _card(f: Figure) -> dict:
    change = f.change
    return {
        "key": f.key,
        "label": f.label,
        "value": display(f.value, f.unit),
        "previous": display(f.previous, f.unit),
        "now": f.now,
        "change": None if change is None else f"{change:+.1f}%",
        "up": change is not None and change > 0,
        "link": f.link,
        "hint": f.hint,
        "ignored": _ignored(f.ignored),
    }


def _table(t) -> dict:
    return {
        "id": t.id,
        "title": t.title,
        "columns": t.columns,
        "rows": [
            {"cells": [display(c, "auto") for c in row], "link": link}
            for row, link in zip(t.rows, t.links or [""] * len(t.rows), strict=True)
        ],
        "ignored": _ignored(t.ignored),
    }


def display(value, unit: str) -> str:
    """A figure as people read it: $1,234,567, 12.5%, 3.2 h, 1,234.5 lots, 1,234."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    value = Decimal(value)
    if unit == "usd":
        return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "hours":
        return f"{value:.1f} h"
    if unit == "lots" or (unit == "auto" and value != value.to_integral_value()):
        return f"{value:,.1f}" if unit == "auto" else f"{value:,.2f}"
    return f"{value:,.0f}"
