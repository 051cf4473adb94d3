"""The country rules a new installation starts from, documented in docs/jurisdictions.md:
residents and nationals of the United States, Iran and North Korea are blocked; the rest of the
countries whose KYC approvals needed four eyes (the former KYC_FOUR_EYES_COUNTRIES setting:
its value in the environment where one is set, else its default IR, KP, SY, MM) are under
enhanced due diligence. Compliance officers change them on the jurisdictions page. The rows shipped here are recorded in their
history (by "system:migration"); the audit log starts with the installation's first decision."""

import os

from django.db import migrations
from django.utils import timezone

ACTOR = "system:migration"
BLOCKED = {
    "US": "US persons: the brokerage is not licensed to serve them (SEC/CFTC registration).",
    "IR": "Comprehensive sanctions (OFAC ITSR, EU Regulation 267/2012); FATF call for action.",
    "KP": "Comprehensive sanctions (UN Security Council resolutions); FATF call for action.",
}
EDD_BASIS = "High-risk third country (FATF); enhanced due diligence under AMLD Article 18a."
FOUR_EYES_DEFAULT = ["IR", "KP", "SY", "MM"]


def four_eyes_countries() -> list[str]:
    raw = os.environ.get("KYC_FOUR_EYES_COUNTRIES", "")
    codes = [c.strip().upper() for c in raw.split(",") if c.strip()] or FOUR_EYES_DEFAULT
    return [c for c in dict.fromkeys(codes) if len(c) == 2 and c.isalpha()]


def forwards(apps, schema_editor):
    CountryRule = apps.get_model("brokerage", "CountryRule")
    History = apps.get_model("brokerage", "HistoricalCountryRule")
    now = timezone.now()
    wanted = [("blocked", code, basis) for code, basis in BLOCKED.items()]
    wanted += [("edd", code, EDD_BASIS) for code in four_eyes_countries() if code not in BLOCKED]
    for kind, country, basis in wanted:
        if CountryRule.objects.filter(country=country, kind=kind).exists():
            continue
        rule = CountryRule.objects.create(
            country=country,
            kind=kind,
            effective_from=now,
            basis=basis,
            created_at=now,
            created_by_label=ACTOR,
        )
        fields = {f.attname: getattr(rule, f.attname) for f in CountryRule._meta.concrete_fields}
        History.objects.create(
            **fields, history_date=now, history_type="+", history_change_reason=None
        )


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0009_country_rules")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
