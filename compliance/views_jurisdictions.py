"""The jurisdiction rules' pages for compliance officers: every rule with its state, adding a
rule, and a country's rules with their history and the form that schedules an end."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from brokerage.country_rules import country_rule_history, country_rule_list
from brokerage.intl import country_choices, country_name, is_country
from brokerage.models import CountryRule
from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate

from .forms_jurisdictions import RuleAddForm, RuleEndForm, RuleFilterForm
from .jurisdiction_selectors import rule_apply_jobs_latest
from .jurisdictions import country_rule_add, country_rule_end
from .permissions import PERM

STATE_LABELS = {"in_force": "In force", "scheduled": "Scheduled", "ended": "Ended"}
STATE_TONES = {"in_force": "danger", "scheduled": "warning", "ended": "secondary"}
KIND_TONES = {"blocked": "danger", "restricted": "warning", "edd": "info"}
HISTORY_TYPES = {"+": "Added", "~": "Changed", "-": "Deleted"}


def _countries_named(q: str) -> list[str]:
    """The codes of the countries whose name (or code) contains `q`."""
    q = q.strip().casefold()
    return [code for code, name in country_choices() if q in name.casefold() or q == code.lower()]


def _shown(rules, now) -> list[CountryRule]:
    for rule in rules:
        rule.state_code = rule.state(now)
        rule.state_label = STATE_LABELS[rule.state_code]
        rule.state_tone = STATE_TONES[rule.state_code]
        rule.kind_tone = KIND_TONES[rule.kind]
    return rules


@staff_required(PERM)
def jurisdictions(request):
    filters = RuleFilterForm(request.GET or None, auto_id="filter_%s")
    data = filters.cleaned_data if filters.is_valid() else {}
    q = (data.get("q") or "").strip()
    form = RuleAddForm(request.POST or None)
    if request.method == "POST":

        def add(d):
            rule = country_rule_add(
                actor=request.user,
                country=d["country"],
                kind=d["kind"],
                basis=d["basis"],
                effective_from=d["effective_from"],
                effective_to=d["effective_to"],
            )
            messages.success(
                request,
                f"Rule {rule.pk} added: {rule.country_name}, {rule.get_kind_display().lower()}.",
            )

        done = form_action(request, form, add, success_url=reverse("compliance:jurisdictions"))
        if done:
            return done
    page, query = paginate(
        request,
        country_rule_list(
            kind=data.get("kind", ""),
            state=data.get("state", ""),
            countries=_countries_named(q) if q else None,
        ),
    )
    _shown(page, timezone.now())
    return render(
        request,
        "compliance/jurisdictions.html",
        {
            "filters": filters,
            "form": form,
            "page": page,
            "query": query,
        },
        status=400 if form.errors else 200,
    )


@staff_required(PERM)
def jurisdiction_country(request, country):
    country = country.upper()
    if not is_country(country):
        raise Http404("No such country.")
    form = RuleEndForm(request.POST or None)
    url = reverse("compliance:jurisdiction", args=[country])
    if request.method == "POST":

        def end(d):
            try:
                rule = CountryRule.objects.get(pk=d["rule"], country=country)
            except CountryRule.DoesNotExist:
                raise Http404("No such rule.") from None
            rule = country_rule_end(
                actor=request.user, rule=rule, reason=d["reason"], effective_to=d["effective_to"]
            )
            messages.success(
                request, f"Rule {rule.pk} ends {rule.effective_to:%Y-%m-%d %H:%M} UTC."
            )

        done = form_action(request, form, end, success_url=url)
        if done:
            return done
    now = timezone.now()
    rules = _shown(list(country_rule_list(countries=[country])), now)
    jobs = rule_apply_jobs_latest(r.pk for r in rules)
    for rule in rules:
        rule.apply_job = jobs.get(rule.pk)
    if request.htmx and request.GET.get("apply", "").isdigit():  # a rule's progress, polled
        rule = next((r for r in rules if r.pk == int(request.GET["apply"])), None)
        if rule is None:
            raise Http404("No such rule.")
        return render(request, "compliance/_rule_apply.html", {"r": rule, "country": country})
    versions = list(country_rule_history(country)[:100])
    for v in versions:
        v.change_label = HISTORY_TYPES.get(v.history_type, v.history_type)
    return render(
        request,
        "compliance/jurisdiction.html",
        {
            "country": country,
            "country_name": country_name(country),
            "rules": rules,
            "versions": versions,
            "form": form,
            "failed_rule": form.data.get("rule") if form.is_bound else None,
        },
        status=400 if form.errors else 200,
    )
