"""Kernel views: the root redirect, health, back-office home, audit log, team, system, errors."""

import hmac
import logging
import sys

from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from . import health
from .audiences import home_url_for
from .dashboard import dashboard_for
from .db import reads_from_replica, replica_health
from .errors import DatabaseUnavailable, DomainError, NotAllowed, database_unreachable
from .events import choices as event_choices
from .exports import dashboard_export, export_query, filter_errors_response
from .ids import parse_id
from .leadership import leadership_context
from .models import AuditEvent, Desk
from .permissions import staff_required
from .roles import ROLES, role_of
from .selectors import audit_event_list, desk_list, staff_list
from .teams import TEAMS

log = logging.getLogger(__name__)


def root(request):
    return redirect(home_url_for(request.user))


@never_cache
@require_GET
def healthz(request):
    report = health.health_report()
    status = 200 if all(v == "ok" for v in report.values()) else 503
    if report["database"] == "ok":
        report.update(health.extra_report())
    return JsonResponse(report, status=status)


@never_cache
@require_GET
def metrics(request):
    """The Prometheus scrape (brokerage/metrics.py): only with `Authorization: Bearer
    <METRICS_TOKEN>`; no staff session is needed, and none is enough."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse(
            "Metrics are off: set METRICS_TOKEN.\n", status=404, content_type="text/plain"
        )
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip(), token):
        refused = HttpResponse(
            "A bearer token is needed: Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain",
        )
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    from .metrics import exposition

    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


def paginate(request, queryset, per_page=25):
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()


def add_domain_error(form, exc) -> None:
    """Show a service's DomainError on the form: its message, and each field's messages."""
    form.add_error(None, exc.message)
    for field, errors in exc.fields.items():
        for error in errors:
            if field in form.fields:
                form.add_error(field, error)


def form_action(request, form, action, *, success_url: str):
    """Run `action(form.cleaned_data)` for a valid form, then redirect to `success_url` (as an
    HX-Redirect for htmx). None when the form is invalid or the service refused (its DomainError
    is then on the form): the caller re-renders the page with it. NotAllowed is a 403."""
    if not form.is_valid():
        return None
    try:
        action(form.cleaned_data)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        add_domain_error(form, exc)
        return None
    if request.htmx:
        return HttpResponseClientRedirect(success_url)
    return redirect(success_url)


@staff_required()
@reads_from_replica()
def home(request):
    if request.user.has_perm("brokerage.view_leadership"):
        ctx = leadership_context(request.user, request.GET)
        ctx["all_desks"] = request.user.has_perm("brokerage.view_all_figures")
        return _dashboard(request, "leadership", ctx)
    panel = dashboard_for(request.user)
    recent = None
    if request.user.has_perm("brokerage.view_auditevent"):
        recent = audit_event_list(user=request.user)[:8]
    return render(
        request,
        "backoffice/home.html",
        {
            "panel": panel,
            "charts_json": [c.__dict__ for c in panel.charts],
            "recent_events": recent,
            "role_slug": role_of(request.user),
        },
    )


@staff_required()
@reads_from_replica()
def team_dashboard(request, team: str):
    """A team's dashboard (brokerage.teams): the leadership pieces for the people who lead it."""
    found = TEAMS[team]
    if not request.user.has_perm(found.permission):
        raise PermissionDenied("Your role does not include this dashboard.")
    ctx = leadership_context(request.user, request.GET, team=found)
    ctx["all_desks"] = not found.by_desk or request.user.has_perm("brokerage.view_all_figures")
    return _dashboard(request, team, ctx)


def _dashboard(request, name: str, ctx: dict):
    """A dashboard's page, or one of its tables as a file (`?export=csv|xlsx&table=<id>`)."""
    if "export" in request.GET:
        if ctx["form"].errors:
            return filter_errors_response(ctx["form"])
        return dashboard_export(request, name, ctx["answer_tables"])
    ctx["export_query"] = export_query(request.GET)
    return render(request, "backoffice/leadership.html", ctx)


@staff_required("brokerage.view_auditevent")
@reads_from_replica()
def audit_log(request):
    filters = {
        "q": request.GET.get("q", "").strip()[:200],
        "action": request.GET.get("action", "").strip()[:100],
        "target_type": request.GET.get("target_type", "").strip()[:100],
        "actor": request.GET.get("actor", "").strip()[:254],
        "subject": request.GET.get("subject", "").strip()[:20],
    }
    events = audit_event_list(user=request.user, **filters)
    page, query = paginate(request, events, per_page=50)
    ctx = {
        "page": page,
        "query": query,
        "filters": filters,
        "actions": event_choices(),  # the catalogue: no scan of the whole log per page
    }
    template = "backoffice/_audit_results.html" if request.htmx else "backoffice/audit_log.html"
    return render(request, template, ctx)


@staff_required("brokerage.view_auditevent")
def audit_event_detail(request, pk: int):
    event = get_object_or_404(AuditEvent.objects.select_related("seal"), pk=pk)
    return render(request, "backoffice/audit_event.html", {"event": event})


@staff_required("brokerage.view_team")
def team(request):
    desks = list(desk_list(user=request.user))
    desk = None
    if request.GET.get("desk"):
        desk_id = parse_id(request.GET["desk"])
        if desk_id is None:
            raise Http404("No such desk.")
        desk = next((d for d in desks if d.pk == desk_id), None)
        if desk is None:
            raise PermissionDenied("That desk is not yours.")
    members = staff_list(user=request.user, desk=desk, q=request.GET.get("q", "").strip()[:100])
    page, query = paginate(request, members)
    labels = {r.label: r for r in ROLES.values()}
    rows = []
    for member in page:
        role = next((labels[g.name].label for g in member.groups.all() if g.name in labels), "")
        rows.append({"user": member, "role": role})
    return render(
        request,
        "backoffice/team.html",
        {"desks": desks, "desk": desk, "page": page, "rows": rows, "query": query},
    )


@staff_required("brokerage.view_system_status")
def system_status(request):
    report = health.health_report()
    try:
        workers = health.workers()
        queues = health.queue_depths()
        beat_age = health.beat_last_tick_age()
    except Exception:  # noqa: BLE001  (Redis down: the report says so)
        workers, queues, beat_age = [], {}, None
    from .metrics import metrics_summary, queue_label

    try:
        figures = metrics_summary()
    except Exception:  # noqa: BLE001  (the page shows the rest; the figures say unavailable)
        log.warning("metrics unavailable on the system page", exc_info=True)
        figures = None
    queue_ages = (figures or {}).get("queues", {})
    ctx = {
        "report": report,
        "workers": workers,
        "queues": queues,
        "queue_rows": [
            {
                "name": name,
                "label": queue_label(name),
                "depth": depth,
                "age_s": queue_ages.get(name, {}).get("oldest_age_s"),
            }
            for name, depth in queues.items()
        ],
        "metrics": figures,
        "beat_age": beat_age,
        "desk_count": Desk.objects.count(),
        "replica": replica_health(),
    }
    template = "backoffice/_system_status.html" if request.htmx else "backoffice/system.html"
    return render(request, template, ctx)


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico: the icon is served under its hashed static name."""
    return redirect(static("img/favicon.svg"))


# --- Error pages: JSON under /api/, the product's layout elsewhere ---------------------------

ERROR_TEXT = {
    400: ("bad_request", "The request could not be understood."),
    # (a BadRequest's own message is shown when it has one)
    403: ("forbidden", "You do not have access to this page."),
    404: ("not_found", "There is nothing at this address."),
    500: ("server_error", "Something went wrong on our side. It has been logged."),
    503: (DatabaseUnavailable.code, DatabaseUnavailable().message),
}


# A host name the site does not serve: said plainly, without Django's hint naming the setting.
UNKNOWN_HOST = "This site does not answer to that host name."


def _error(request, status, exception=None):
    code, detail = ERROR_TEXT[status]
    if isinstance(exception, DisallowedHost):
        detail = UNKNOWN_HOST
    elif status in (400, 403) and exception is not None and str(exception):
        detail = str(exception)
        if "settings." in detail:  # Django's size limits name the setting: not for visitors
            detail = ERROR_TEXT[status][1]
    if request.path.startswith("/api/"):
        return JsonResponse({"error": code, "detail": detail, "fields": {}}, status=status)
    try:
        body = loader.render_to_string(
            "errors/error.html",
            {"status": status, "detail": detail},
            # Without the database the page's context (the signed-in user) cannot be read.
            request=None if status == 503 else request,
        )
    except Exception:  # noqa: BLE001  (the error page must never fail itself)
        log.exception("error page failed to render")
        body = f"<h1>{status}</h1><p>{detail}</p>"
    return HttpResponse(body, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, exception)


def permission_denied(request, exception=None):
    return _error(request, 403, exception)


def page_not_found(request, exception=None):
    return _error(request, 404, exception)


def server_error(request):
    """An unhandled error: 500, except a request the database could not serve (down,
    restarting, failing over), which failed cleanly (its transaction never committed) and may
    be sent again: 503 with Retry-After."""
    if database_unreachable(sys.exc_info()[1]):
        response = _error(request, 503)
        for name, value in DatabaseUnavailable().headers().items():
            response[name] = value
        return response
    return _error(request, 500)


def csrf_failure(request, reason=""):
    """A form posted without its security token: most often a page left open past the session, or
    cookies blocked. Say what to do instead of Django's technical page."""
    detail = (
        "This form has expired or your browser did not send its security cookie. Reload the "
        "page, then submit it again (cookies must be allowed for this site)."
    )
    return _error(request, 403, PermissionDenied(detail))
