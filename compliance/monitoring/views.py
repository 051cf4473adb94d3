"""The monitoring's staff pages: the alert queue, one alert, the scenarios with the alerts
chart, and a scenario's editor (draft, backtest beside the live version, publish)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from brokerage.errors import DomainError, NotAllowed
from brokerage.permissions import staff_required
from brokerage.views import add_domain_error, form_action, paginate

from . import selectors, services
from .catalogue import TYPOLOGIES
from .explain import usd
from .forms import AlertCloseForm, AlertFilterForm, BacktestForm, PublishForm, VersionForm
from .models import Alert, EvidenceKind, JobStatus, Scenario, ScenarioVersion, VersionStatus

VIEW = selectors.VIEW

# Where each kind of evidence opens (a linked client is the client 360).
EVIDENCE_URLS = {
    EvidenceKind.DEPOSIT: "finance:deposit",
    EvidenceKind.WITHDRAWAL: "finance:withdrawal",
    EvidenceKind.CHARGEBACK: "finance:chargeback",
    EvidenceKind.CLIENT_LINK: "clients:detail",
}


@staff_required(VIEW)
def alerts(request):
    form = AlertFilterForm(request.GET or None, initial={"status": "active"})
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status", "active") if request.GET else "active"
    page, query = paginate(
        request,
        selectors.alert_list(
            q=(data.get("q") or "").strip(),
            scenario=data.get("scenario", ""),
            status=status,
            action=data.get("action", ""),
            since=data.get("since"),
            until=data.get("until"),
        ),
        per_page=50,
    )
    now = timezone.now()
    for alert in page:
        alert.age_days = (now - alert.first_seen_at).days
    return render(
        request,
        "compliance/monitoring/alerts.html",
        {"form": form, "page": page, "query": query},
        status=400 if form.is_bound and form.errors else 200,
    )


def _evidence_rows(alert: Alert) -> list[dict]:
    rows = []
    for e in alert.evidence.all():
        name = EVIDENCE_URLS.get(e.kind)
        rows.append(
            {
                "e": e,
                "url": reverse(name, args=[e.object_id]) if name else "",
                "usd": usd(e.amount_usd) if e.amount_usd is not None else "",
            }
        )
    return rows


@staff_required(VIEW)
def alert_detail(request, alert_id: int):
    try:
        alert = selectors.alert_get(alert_id)
    except Alert.DoesNotExist:
        raise Http404("No such alert.") from None
    form = AlertCloseForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm(services.MANAGE_ALERTS):
            raise PermissionDenied("Only compliance officers close AML alerts.")
        done = form_action(
            request,
            form,
            lambda d: services.alert_close(alert=alert, reason=d["reason"], actor=request.user),
            success_url=reverse("compliance:aml_alert", args=[alert.pk]),
        )
        if done:
            return done
    snapshot = alert.snapshot or {}
    return render(
        request,
        "compliance/monitoring/alert.html",
        {
            "alert": alert,
            "evidence": _evidence_rows(alert),
            "closings": selectors.alert_closings(alert),
            "params": selectors.param_rows(alert.scenario.code, alert.params),
            "snapshot": snapshot,
            "profile": snapshot.get("financial_profile") or {},
            "form": form,
            "may_close": alert.is_open and request.user.has_perm(services.MANAGE_ALERTS),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_required(VIEW)
def scenarios(request):
    return render(
        request,
        "compliance/monitoring/scenarios.html",
        {
            "rows": selectors.scenario_rows(),
            "charts": [selectors.alerts_by_scenario_chart()],
        },
    )


def _version_context(scenario, version):
    return {
        "version": version,
        "params": selectors.param_rows(scenario.code, version.params) if version else [],
    }


@staff_required(VIEW)
def scenario_detail(request, code: str):
    if code not in TYPOLOGIES:
        raise Http404("No such scenario.")
    scenario = get_object_or_404(Scenario, code=code)
    versions = list(scenario.versions.order_by("-number"))
    live = next((v for v in versions if v.status == VersionStatus.LIVE), None)
    draft = next((v for v in versions if v.status == VersionStatus.DRAFT), None)
    may_edit = request.user.has_perm(services.MANAGE_SCENARIOS)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action and not may_edit:
        raise PermissionDenied("Only compliance officers change AML scenarios.")
    here = reverse("compliance:aml_scenario", args=[code])
    base = draft or live
    form = VersionForm(
        request.POST if action == "save" else None,
        code=code,
        initial=VersionForm.initial_for(base) if base else {},
    )
    backtest_form = BacktestForm(request.POST if action == "backtest" else None)
    publish_form = PublishForm(request.POST if action == "publish" else None)
    if request.method == "GET" and "backtest" in request.GET:
        return _backtest_fragment(request, scenario, draft)
    error = ""
    on_draft = {  # the draft's steps: the form each reads, the service each calls
        "backtest": (
            backtest_form,
            lambda d: services.version_backtest_request(
                version=draft, actor=request.user, days=d["days"]
            ),
        ),
        "publish": (
            publish_form,
            lambda d: services.version_publish(
                version=draft, actor=request.user, reason=d["reason"]
            ),
        ),
    }
    try:
        if action == "save":
            done = form_action(
                request,
                form,
                lambda d: _save(scenario, draft, form, request.user),
                success_url=here,
            )
            if done:
                return done
        elif action in on_draft and draft:
            bound, run = on_draft[action]
            done = form_action(request, bound, run, success_url=here)
            if done:
                return done
        elif action == "discard" and draft:
            services.version_discard(version=draft, actor=request.user)
            return redirect(here)
        elif action and action not in ("save", "backtest", "publish", "discard"):
            error = "Unknown action."
        elif action in ("backtest", "publish", "discard") and not draft:
            error = "Draft a new version first."
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        add_domain_error(backtest_form, exc)
    failed = bool(error) or any(
        f.is_bound and f.errors for f in (form, backtest_form, publish_form)
    )
    return render(
        request,
        "compliance/monitoring/scenario.html",
        {
            "scenario": scenario,
            "typology": TYPOLOGIES[code],
            "live": _version_context(scenario, live),
            "draft": _version_context(scenario, draft),
            "versions": versions,
            "form": form,
            "backtest_form": backtest_form,
            "publish_form": publish_form,
            **_backtest_context(draft),
            "error": error,
            "may_edit": may_edit,
        },
        status=400 if failed else 200,
    )


def _backtest_context(draft: ScenarioVersion | None, job_id=None) -> dict:
    """The draft's latest backtest (or the one asked for): its progress, and once done its
    result with the clients named."""
    job = selectors.backtest_latest(draft, job_id=job_id) if draft else None
    result = job.result if job is not None and job.status == JobStatus.DONE else None
    if result:
        result["version"]["rows"] = _named(result["version"])
        if result["live"]:
            result["live"]["rows"] = _named(result["live"])
    return {"job": job, "result": result}


def _backtest_fragment(request, scenario: Scenario, draft: ScenarioVersion | None):
    """The backtest's card body, polled while it runs."""
    try:
        job_id = int(request.GET.get("backtest", ""))
    except ValueError:
        raise Http404("No such backtest.") from None
    context = _backtest_context(draft, job_id=job_id)
    if context["job"] is None:
        raise Http404("No such backtest.")
    return render(
        request, "compliance/monitoring/_backtest.html", {"scenario": scenario, **context}
    )


def _save(scenario: Scenario, draft: ScenarioVersion | None, form: VersionForm, user):
    """Draft a new version or change the draft; the service's refusals name the form's
    fields (a parameter's messages go under its own input)."""
    try:
        return _save_version(scenario, draft, form, user)
    except DomainError as exc:
        exc.fields = {
            (f"p_{key}" if f"p_{key}" in form.fields else key): messages
            for key, messages in exc.fields.items()
        }
        raise


def _save_version(scenario: Scenario, draft: ScenarioVersion | None, form: VersionForm, user):
    d = form.cleaned_data
    values = {
        "actor": user,
        "params": form.params(),
        "alert_score": d["alert_score"],
        "hold_score": d.get("hold_score", ""),
        "note": d.get("note", ""),
    }
    if draft is None:
        return services.version_draft(scenario=scenario, **values)
    return services.version_update(version=draft, **values)


def _named(found: dict) -> list[dict]:
    """The clients a backtest would have alerted, with their names (the first 100)."""
    from clients.models import Client

    ids = found["clients"][:100]
    clients = Client.objects.select_related("user").in_bulk(ids)
    return [
        {
            "client": clients.get(pk),
            "pk": pk,
            "score": found["scores"].get(str(pk)),
        }
        for pk in ids
    ]
