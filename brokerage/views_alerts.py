"""The alerts page (`/backoffice/alerts/`): a staff member's notifications, newest first, with
the unread ones marked and a link to each queue; for the heads of a team, its alert limits with
the reading now, the breach open if any, and a form to change a limit (audited). The top bar's
bell reads the unread count from `alerts/badge/` once the page has loaded, so no page pays a
query for it."""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import alerts
from .ids import parse_id
from .models_alerts import AlertBreach
from .permissions import staff_required
from .views import form_action, paginate


class LimitForm(forms.Form):
    limit = forms.DecimalField(min_value=Decimal(0), max_digits=14, decimal_places=2)
    enabled = forms.BooleanField(required=False, label="Alert on", initial=True)
    reason = forms.CharField(max_length=300, label="Why")


def _limits(user, bound: dict | None = None) -> list[dict]:
    """The limits of the teams `user` heads: the reading now, the limit, the breach open."""
    headed = alerts.metrics_headed_by(user)
    if not headed:
        return []
    in_force = alerts.limits()
    now = timezone.now()
    unresolved = {
        (b.metric, b.subject): b
        for b in AlertBreach.objects.exclude(status="resolved").filter(
            metric__in=[m.code for m in headed]
        )
    }
    rows = []
    for m in headed:
        limit, enabled = in_force[m.code]
        try:
            readings = m.read(now)
        except Exception:  # noqa: BLE001  (the page still shows the limit)
            readings = None
        form = (bound or {}).get(m.code) or LimitForm(
            prefix=m.code.replace(".", "-"), initial={"limit": limit, "enabled": enabled}
        )
        rows.append(
            {
                "metric": m,
                "limit": alerts.display(limit, m.unit),
                "enabled": enabled,
                "readings": None
                if readings is None
                else [
                    {
                        "label": r.subject_label,
                        "value": alerts.display(r.value, m.unit),
                        "over": enabled and Decimal(r.value) > limit,
                        "url": r.url,
                        "breach": unresolved.get((m.code, r.subject)),
                    }
                    for r in readings
                ],
                "form": form,
                "action": reverse("backoffice:alert_limit", args=[m.code]),
            }
        )
    return rows


def _page(request, bound=None, status=200):
    page, query = paginate(request, alerts.notification_list(user=request.user), 20)
    return render(
        request,
        "backoffice/alerts.html",
        {
            "page": page,
            "query": query,
            "unread": alerts.notifications_unread(user=request.user),
            "limits": _limits(request.user, bound),
        },
        status=status,
    )


@staff_required()
def alerts_page(request):
    return _page(request)


@staff_required()
@require_POST
def alert_limit(request, metric: str):
    try:
        m = alerts.metric_get(metric)
    except alerts.InvalidInput as exc:
        raise Http404(exc.message) from exc
    if not request.user.has_perm(m.heads):
        raise PermissionDenied(f"Only the heads of {m.team} set this limit.")
    form = LimitForm(request.POST, prefix=m.code.replace(".", "-"))
    done = form_action(
        request,
        form,
        lambda d: alerts.alert_threshold_set(
            actor=request.user,
            metric=m.code,
            limit=d["limit"],
            enabled=d["enabled"],
            reason=d["reason"],
            request=request,
        ),
        success_url=reverse("backoffice:alerts") + "#limits",
    )
    if done is not None:
        messages.success(request, f"{m.label}: the limit is saved.")
        return done
    return _page(request, bound={m.code: form}, status=400)


@staff_required()
@require_POST
def alerts_read(request):
    """Mark one notification read (`id`), or all of them."""
    raw = request.POST.get("id", "")
    notification_id = parse_id(raw) if raw else None
    if raw and notification_id is None:
        raise Http404("No such notification.")
    alerts.notifications_mark_read(user=request.user, notification_id=notification_id)
    return redirect(reverse("backoffice:alerts"))


@staff_required()
def alerts_badge(request):
    """The top bar's bell: the unread count (an htmx fragment)."""
    return render(
        request,
        "backoffice/_alerts_badge.html",
        {"unread": alerts.notifications_unread(user=request.user)},
    )
