"""The partner's earnings over a chosen range (/partners/earnings/): by day, by symbol, by
client (masked) and by level, as charts and tables, and the same figures as CSV."""

from datetime import timedelta

from django import forms
from django.shortcuts import render
from django.utils import timezone

from brokerage.db import reads_from_replica
from brokerage.exports import Export, export_response, tuple_columns

from .permissions import partner_required
from .selectors import partner_earnings_between, partner_earnings_by_client

DEFAULT_DAYS, MAX_DAYS = 30, 366
TOP = 10  # symbols and clients drawn in the charts (the tables and the CSV have them all)


class RangeForm(forms.Form):
    date_from = forms.DateField(label="From", required=False)
    date_to = forms.DateField(label="To", required=False)

    def clean(self):
        data = super().clean()
        date_to = data.get("date_to") or timezone.now().date()
        date_from = data.get("date_from") or date_to - timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            self.add_error("date_from", "On or before the last day.")
        elif (date_to - date_from).days >= MAX_DAYS:
            self.add_error("date_from", f"At most {MAX_DAYS} days before the last day.")
        data["date_from"], data["date_to"] = date_from, date_to
        return data


def level_label(tier: int) -> str:
    return "Your clients" if tier == 0 else f"Sub-IB level {tier}"


def earnings_figures(*, partner, date_from, date_to) -> dict:
    """Every breakdown of the range, as the page and the CSV show it."""
    figures = partner_earnings_between(partner=partner, date_from=date_from, date_to=date_to)
    for row in figures["by_tier"]:
        row["level"] = level_label(row["tier"])
    figures["by_client"] = partner_earnings_by_client(
        partner=partner, date_from=date_from, date_to=date_to
    )
    totals = figures["totals"]
    figures["currency"] = max(totals, key=lambda t: t["amount"])["currency"] if totals else "USD"
    return figures


def charts_of(figures: dict, date_from, date_to) -> list[dict]:
    """The charts, in the range's main currency (the tables show every currency)."""
    currency = figures["currency"]

    def of(rows, key, limit=None):
        rows = [r for r in rows if r["currency"] == currency][:limit]
        return [str(r[key]) for r in rows], [float(r["amount"]) for r in rows]

    per_day = {r["day"]: float(r["amount"]) for r in figures["by_day"] if r["currency"] == currency}
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    symbols, by_symbol = of(figures["by_symbol"], "symbol", TOP)
    clients, by_client = of(figures["by_client"], "name", TOP)  # short: the tables have more
    levels, by_level = of(figures["by_tier"], "level")
    label = f"Earned ({currency})"
    return [
        {
            "id": "earnings-by-day",
            "kind": "bar",
            "labels": [d.isoformat()[5:] for d in days],
            "datasets": [{"label": label, "data": [per_day.get(d, 0) for d in days]}],
        },
        {
            "id": "earnings-by-symbol",
            "kind": "doughnut",
            "labels": [s or "—" for s in symbols],
            "datasets": [{"label": label, "data": by_symbol}],
        },
        {
            "id": "earnings-by-client",
            "kind": "bar",
            "labels": clients,
            "datasets": [{"label": label, "data": by_client}],
            "horizontal": True,
        },
        {
            "id": "earnings-by-level",
            "kind": "bar",
            "labels": levels,
            "datasets": [{"label": label, "data": by_level}],
        },
    ]


def earnings_export(request, figures: dict, date_from, date_to, code: str, fmt: str):
    def rows():
        for row in figures["totals"]:
            yield ["total", "", row["currency"], row["lines"], row["amount"]]
        for breakdown, rows_of, key in [
            ("day", figures["by_day"], lambda r: r["day"].isoformat()),
            ("symbol", figures["by_symbol"], lambda r: r["symbol"]),
            ("client", figures["by_client"], lambda r: r["client"]),
            ("level", figures["by_tier"], lambda r: r["level"]),
        ]:
            for row in rows_of:
                yield [breakdown, key(row), row["currency"], row["lines"], row["amount"]]

    headers = ["breakdown", "key", "currency", "lines", "amount"]
    export = Export(
        name="ib.earnings",
        title="Earnings",
        columns=tuple_columns(*headers),
        rows=rows(),
        filename=f"earnings-{code}-{date_from:%Y-%m-%d}-{date_to:%Y-%m-%d}",
    )
    return export_response(request, export, fmt)


@partner_required
@reads_from_replica()
def earnings(request):
    partner = request.user.partner
    form = RangeForm(request.GET)
    if not form.is_valid():
        today = timezone.now().date()
        shown = {"date_from": today - timedelta(days=DEFAULT_DAYS - 1), "date_to": today}
        return render(
            request, "partners/earnings.html", {"form": form, **shown, "figures": None}, status=400
        )
    date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    figures = earnings_figures(partner=partner, date_from=date_from, date_to=date_to)
    fmt = request.GET.get("format") or request.GET.get("export")
    if fmt:
        return earnings_export(request, figures, date_from, date_to, partner.referral_code, fmt)
    return render(
        request,
        "partners/earnings.html",
        {
            "form": form,
            "date_from": date_from,
            "date_to": date_to,
            "figures": figures,
            "charts": charts_of(figures, date_from, date_to),
        },
    )
