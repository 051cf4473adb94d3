"""Retention in the back-office (/backoffice/retention/): the queue of quiet clients with the
reasons they are there, a flag's page with outreach, and each desk's thresholds."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brokerage.errors import DomainError, NotAllowed
from brokerage.ids import parse_id
from brokerage.models import Desk
from brokerage.permissions import staff_required
from brokerage.selectors import audit_trail_for
from brokerage.views import add_domain_error, paginate

from .forms_retention import OutreachForm, PolicyForm
from .models import OutreachTemplate, RetentionFlag, RetentionPolicy
from .retention import selectors as retention_selectors
from .retention import services as retention_services
from .retention.signals import signal_labels

WORK = "clients.work_retention"
MANAGE = "clients.manage_retention"

SIGNAL_STYLE = {
    "inactive": ("secondary", "hourglass-split"),
    "losing_streak": ("danger", "graph-down-arrow"),
    "balance_drop": ("warning", "arrow-down-circle"),
    "failed_withdrawal": ("info", "credit-card-2-back"),
    "no_login": ("dark", "door-closed"),
}
OUTCOME_STYLE = {
    "reached": "success",
    "deposit": "success",
    "call_back": "primary",
    "no_answer": "secondary",
    "not_interested": "warning",
    "closed_account": "danger",
}


def _styles() -> dict:
    return {
        code: {
            "color": SIGNAL_STYLE.get(code, ("secondary", "flag"))[0],
            "icon": SIGNAL_STYLE.get(code, ("secondary", "flag"))[1],
            "label": label,
        }
        for code, label in signal_labels().items()
    }


def _flag(user, flag_id: int) -> RetentionFlag:
    try:
        return retention_selectors.retention_flag_get(user=user, flag_id=flag_id)
    except RetentionFlag.DoesNotExist as exc:
        raise Http404("No such retention flag.") from exc
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from exc


def _desks_for_filter(user):
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return Desk.objects.filter(is_active=True)
    return Desk.objects.filter(Q(manager=user) | Q(members__user=user)).distinct()


@staff_required(WORK)
def queue(request):
    labels = signal_labels()
    signal = request.GET.get("signal", "")
    signal = signal if signal in labels else ""
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in RetentionFlag.Outcome.values or outcome == "none" else ""
    desk_id = parse_id(request.GET.get("desk"))
    uncontacted = request.GET.get("uncontacted") == "1"
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(
        request,
        retention_selectors.retention_queue(
            user=request.user,
            signal=signal,
            desk_id=desk_id,
            outcome=outcome,
            uncontacted=uncontacted,
            q=q,
        ),
    )
    ctx = {
        "page": page,
        "query": query,
        "signal": signal,
        "outcome": outcome,
        "desk_id": desk_id,
        "uncontacted": uncontacted,
        "q": q,
        "styles": _styles(),
        "outcome_style": OUTCOME_STYLE,
        "outcomes": RetentionFlag.Outcome.choices,
        "desks": list(_desks_for_filter(request.user)),
    }
    if request.htmx and request.htmx.target == "queue-table":
        return render(request, "clients/retention/_queue_table.html", ctx)
    summary = retention_selectors.retention_summary(user=request.user)
    ctx.update(summary=summary, charts=summary["charts"])
    return render(request, "clients/retention/queue.html", ctx)


def _outreach_form(request, flag, data=None) -> OutreachForm:
    templates = retention_selectors.templates_for(flag)
    codes = {s.get("code") for s in flag.signals or []}
    matching = [t.pk for t in templates if t.signal and t.signal in codes]
    if data is not None:
        return _live(OutreachForm(data, templates=templates, matching=matching), flag)
    chosen_id = request.GET.get("template")
    by_id = {str(t.pk): t for t in templates}
    if chosen_id is not None:
        chosen = by_id.get(chosen_id)
    else:  # the best email for this client's signals
        chosen = next((t for t in templates if t.channel == OutreachTemplate.Channel.EMAIL), None)
    initial = {"template": str(chosen.pk) if chosen else "", "channel": "email"}
    if chosen:
        subject, body = retention_selectors.template_render(chosen, flag, agent=request.user)
        initial.update(subject=subject, body=body, channel=chosen.channel)
    return _live(OutreachForm(initial=initial, templates=templates, matching=matching), flag)


def _live(form: OutreachForm, flag) -> OutreachForm:
    """Choosing a template reloads the outreach card with it rendered for the client."""
    form.fields["template"].widget.attrs.update(
        {
            "hx-get": reverse("retention:flag", args=[flag.pk]),
            "hx-target": "#outreach",
            "hx-swap": "outerHTML",
            "hx-trigger": "change",
        }
    )
    return form


def _flag_page(request, flag, form, status=200):
    ctx = {
        "flag": flag,
        "client": flag.client,
        "client_url": reverse("clients:detail", args=[flag.client_id]),
        "form": form,
        "styles": _styles(),
        "outcome_style": OUTCOME_STYLE,
        "trail": audit_trail_for(flag),
        **retention_selectors.retention_flag_context(flag),
    }
    if request.htmx and request.htmx.target == "outreach":
        return render(request, "clients/retention/_outreach.html", ctx, status=status)
    return render(request, "clients/retention/flag.html", ctx, status=status)


@staff_required(WORK)
def flag_detail(request, flag_id: int):
    flag = _flag(request.user, flag_id)
    return _flag_page(request, flag, _outreach_form(request, flag))


@staff_required(WORK)
@require_POST
def action(request, flag_id: int):
    flag = _flag(request.user, flag_id)
    form = _outreach_form(request, flag, data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            retention_services.retention_action_log(
                flag=flag,
                actor=request.user,
                channel=data["channel"],
                template=data["template"],
                subject=data["subject"],
                body=data["body"],
                outcome=data["outcome"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"Email sent to {flag.client.user.email}."
                if data["channel"] == "email"
                else "Call logged.",
            )
            url = reverse("retention:flag", args=[flag.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _flag_page(request, flag, form, status=400)


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def policies(request):
    may_default, desks = retention_selectors.retention_desks_for(request.user)
    desks = list(desks)
    stored = {
        p.desk_id: p
        for p in RetentionPolicy.objects.filter(
            Q(desk__isnull=True) | Q(desk__in=[d.pk for d in desks])
        )
    }
    default = stored.get(None)
    open_by_desk = dict(
        RetentionFlag.objects.filter(status=RetentionFlag.Status.OPEN)
        .values_list("desk_id")
        .annotate(n=Count("id"))
    )
    rows = []
    for desk in [None, *desks]:
        policy = stored.get(desk.pk if desk else None)
        effective = policy if policy and policy.is_active else default
        source = policy if policy else default
        key = str(desk.pk) if desk else "default"
        initial = {
            "inactivity_days": getattr(source, "inactivity_days", 12),
            "balance_drop_percent": getattr(source, "balance_drop_percent", 40),
            "no_login_days": getattr(source, "no_login_days", 14),
            "is_active": bool(policy and policy.is_active) if desk else True,
        }
        bound = request.method == "POST" and request.POST.get("desk") == key
        form = PolicyForm(request.POST if bound else None, initial=initial, prefix=f"p{key}")
        if desk is None:
            form.fields.pop("is_active")
        rows.append(
            {
                "key": key,
                "desk": desk,
                "policy": policy,
                "effective": effective,
                "own": bool(desk and policy and policy.is_active),
                "editable": desk is not None or may_default,
                "form": form,
                "open_flags": open_by_desk.get(desk.pk if desk else None, 0) if desk else None,
            }
        )
    if request.method == "POST":
        row = next((r for r in rows if r["key"] == request.POST.get("desk")), None)
        if row is None or not row["editable"]:
            raise PermissionDenied("You set thresholds for your own desks only.")
        form = row["form"]
        if form.is_valid():
            data = form.cleaned_data
            try:
                retention_services.retention_policy_set(
                    actor=request.user,
                    desk=row["desk"],
                    inactivity_days=data["inactivity_days"],
                    balance_drop_percent=data["balance_drop_percent"],
                    no_login_days=data["no_login_days"],
                    is_active=data.get("is_active", True) if row["desk"] else True,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                name = row["desk"].name if row["desk"] else "The default policy"
                messages.success(request, f"{name}: thresholds saved.")
                return redirect("retention:settings")
    templates = OutreachTemplate.objects.order_by("signal", "channel", "name")
    return render(
        request,
        "clients/retention/settings.html",
        {
            "rows": rows,
            "may_default": may_default,
            "templates": templates,
            "styles": _styles(),
        },
        status=400 if any(r["form"].errors for r in rows) else 200,
    )
