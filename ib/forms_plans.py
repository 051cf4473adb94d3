"""The plan editor's forms: a programme, a plan, and a new version with its rates (rows of
kind, scope and rate, and a CPA's terms). A row's scope: a symbol or a group (or neither), an
account type (or any) and where the client lives (a country, a region, or anywhere)."""

from django import forms

from brokerage.intl import country_choices
from brokerage.regions import region_list
from clients.instruments import symbol_group_choices
from clients.models import AccountType

from .models import PlanRule, PlanVersion, Programme

RULE_ROWS = 8

CPA_FIELDS = ("min_deposit", "min_lots", "within_days", "clawback_days")
CPA_LABELS = {
    "min_deposit": "CPA minimum first deposit",
    "min_lots": "CPA minimum lots",
    "within_days": "CPA days to trade the lots",
    "clawback_days": "CPA clawback days",
}


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = ["name", "registration", "period", "currency", "auto_payout_threshold"]

    def clean_currency(self):
        currency = self.cleaned_data["currency"].strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise forms.ValidationError("A three-letter currency code, e.g. USD.")
        return currency


class PlanForm(forms.Form):
    programme = forms.ModelChoiceField(queryset=Programme.objects.all(), empty_label="Choose…")
    name = forms.CharField(max_length=100, strip=True)


class VersionForm(forms.Form):
    valid_from = forms.DateTimeField(
        label="In force from (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Deals closed from then on are paid by it, once published.",
    )
    entry = forms.ChoiceField(label="Deals paid", choices=PlanVersion.Entry.choices)
    min_hold_seconds = forms.IntegerField(
        label="Minimum hold (seconds)", min_value=0, max_value=86_400, initial=60
    )
    tiers = forms.ChoiceField(label="Levels", choices=PlanVersion.Tiers.choices)
    tier_percent = forms.DecimalField(
        label="Share of the level below (%)",
        min_value=0,
        max_value=100,
        decimal_places=4,
        initial=0,
        required=False,
    )
    self_trading = forms.BooleanField(label="Pay on partners' own accounts", required=False)
    note = forms.CharField(label="What changes", max_length=200, required=False, strip=True)


def rule_rows(data=None, rules=()) -> list[dict]:
    """The editor's rate rows: from a submitted form (`data`), else from `rules` (the version
    a new draft starts from), padded with empty rows."""
    rows = []
    if data is not None:
        for i in range(RULE_ROWS * 8):
            row = {name: data.get(f"rule-{i}-{name}", "").strip()[:40] for name in _ALL}
            if any(row[name] for name in _SCOPE):
                rows.append(row)
    else:
        for rule in rules:
            rows.append(
                {
                    "kind": rule.kind,
                    "symbol_group": rule.symbol_group,
                    "symbol": rule.symbol,
                    "account_type": str(rule.account_type_id or ""),
                    "where": f"country:{rule.country}"
                    if rule.country
                    else f"region:{rule.region_id}"
                    if rule.region_id
                    else "",
                    "rate": _plain(rule.rate),
                    **{name: _plain(getattr(rule, name)) for name in CPA_FIELDS},
                }
            )
    for _ in range(max(RULE_ROWS - len(rows), 2)):
        rows.append(dict.fromkeys(_ALL, "") | {"kind": PlanRule.Kind.PER_LOT})
    for row in rows:  # the CPA inputs of the editor's row, with what they are called
        row["terms"] = [(name, CPA_LABELS[name], row[name]) for name in CPA_FIELDS]
    return rows


def rules_from(rows: list[dict]) -> list[dict]:
    """The rows a manager filled, as `plan_version_create` takes them ("where" becomes a
    country or a region)."""
    rules = []
    for row in rows:
        if not any(row.get(name) for name in _SCOPE):
            continue
        rule = {k: v for k, v in row.items() if k not in ("terms", "where") and v != ""}
        what, _, value = row.get("where", "").partition(":")
        if what in ("country", "region") and value:
            rule[what] = value
        elif row.get("where"):
            rule["region"] = row["where"]  # not one the page offers: refused as unknown
        rules.append(rule)
    return rules


def _plain(value) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)


_ALL = ("kind", "symbol_group", "symbol", "account_type", "where", "rate", *CPA_FIELDS)
_SCOPE = ("rate", "symbol", "symbol_group", "account_type", "where")
KIND_CHOICES = PlanRule.Kind.choices


def group_choices() -> list[tuple[str, str]]:
    return [("", "Plan default (every symbol)"), *symbol_group_choices()]


def account_type_choices() -> list[tuple[str, str]]:
    types = AccountType.objects.select_related("server").order_by("server__name", "order", "name")
    return [("", "Any account type"), *((str(t.pk), str(t)) for t in types)]


def where_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Where the client lives, grouped: anywhere, the regions, the countries."""
    regions = [(f"region:{r.pk}", f"{r.name} ({r.code})") for r in region_list()]
    countries = [(f"country:{code}", name) for code, name in country_choices()]
    return [("", [("", "Anywhere")]), ("Regions", regions), ("Countries", countries)]
