"""The fraud checks' thresholds (/backoffice/ib/fraud/, IB managers): what each signal looks
for, its threshold (the global ones, or a programme's own: ?programme=<id>), and how many lines
it holds for review now."""

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.ids import parse_id
from brokerage.permissions import staff_required

from .fraud import SIGNALS, THRESHOLD_FIELDS, fraud_thresholds_reset, fraud_thresholds_set
from .models import FraudThresholds, Programme
from .selectors import withheld_by_signal

MANAGE = "ib.manage_commissions"

# The settings of each signal, in the order staff read them.
SIGNAL_FIELDS = {
    "related_client": ["related_clients"],
    "account_cycling": ["cycling_accounts", "cycling_days"],
    "opposite_trades": ["opposite_seconds"],
    "short_hold_burst": ["burst_hold_seconds", "burst_share_pct"],
    "phantom_sub_ib": ["phantom_min_clients"],
}


def _programme(request):
    """The programme the page is about (?programme=<id>), None for the global thresholds;
    an unknown one is a 404."""
    raw = (request.POST.get("programme") or request.GET.get("programme") or "").strip()
    if not raw:
        return None
    programme_id = parse_id(raw)
    if programme_id is None:
        raise Http404("No such programme.")
    return get_object_or_404(Programme, pk=programme_id)


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def fraud(request):
    programme = _programme(request)
    here = reverse("ib:fraud") + (f"?programme={programme.pk}" if programme else "")
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "reset" and programme is not None:
                fraud_thresholds_reset(programme=programme, actor=request.user)
                messages.success(request, f"{programme} uses the global thresholds again.")
                return redirect(here)
            changes = {
                name: request.POST.get(name, "").strip()[:20]
                for name in THRESHOLD_FIELDS
                if name != "related_clients"
            }
            changes["related_clients"] = request.POST.get("related_clients") == "on"
            fraud_thresholds_set(changes=changes, actor=request.user, programme=programme)
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, "Thresholds saved. They apply to lines written from now on.")
            return redirect(here)
    own = FraudThresholds.objects.filter(programme=programme).first() if programme else None
    row = own or FraudThresholds.current()
    shown = request.POST if request.method == "POST" else {}  # a refused form shows its input
    counts = withheld_by_signal()
    signals = [
        {
            "code": code,
            "label": label,
            "withheld": counts.get(code, 0),
            "fields": [
                {
                    "name": name,
                    "label": FraudThresholds._meta.get_field(name).verbose_name,
                    "help": FraudThresholds._meta.get_field(name).help_text,
                    "value": shown.get(name, getattr(row, name)),
                    "boolean": name == "related_clients",
                }
                for name in SIGNAL_FIELDS[code]
            ],
        }
        for code, label in SIGNALS.items()
    ]
    programmes = Programme.objects.order_by("name").annotate(
        own=Exists(FraudThresholds.objects.filter(programme=OuterRef("pk")))
    )
    return render(
        request,
        "ib/fraud.html",
        {
            "signals": signals,
            "row": row,
            "programme": programme,
            "own": own,
            "programmes": programmes,
        },
        status=status,
    )
