"""The fraud checks' thresholds (/backoffice/ib/fraud/, IB managers): what each signal looks
for, its threshold, and how many lines it holds for review now."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError
from brokerage.permissions import staff_required

from .fraud import SIGNALS, THRESHOLD_FIELDS, fraud_thresholds_set
from .models import FraudThresholds
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


@staff_required(MANAGE)
@require_http_methods(["GET", "POST"])
def fraud(request):
    row = FraudThresholds.current()
    if request.method == "POST":
        changes = {
            name: request.POST.get(name, "").strip()[:20]
            for name in THRESHOLD_FIELDS
            if name != "related_clients"
        }
        changes["related_clients"] = request.POST.get("related_clients") == "on"
        try:
            fraud_thresholds_set(changes=changes, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Thresholds saved. They apply to lines written from now on.")
            return redirect("ib:fraud")
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
    return render(request, "ib/fraud.html", {"signals": signals, "row": row})
