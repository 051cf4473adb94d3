"""The leverage limits a new installation starts from, documented in docs/leverage-limits.md:
the retail limits of ESMA's product intervention (the EEA), the FCA's (the UK) and ASIC's
(Australia). Professional clients and eligible counterparties have none by default.
Compliance officers change them on the leverage limits page. The rows shipped here are recorded in their
history (by "system:migration"); the audit log starts with the installation's first decision."""

from django.db import migrations
from django.utils import timezone

ACTOR = "system:migration"
REGIONS = {
    "EEA": (
        "European Economic Area",
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
        "IS LI NO",
    ),
    "UK": ("United Kingdom", "GB"),
    "AU": ("Australia", "AU"),
}
# Retail: FX majors 30:1; other FX, gold and major indices 20:1; other commodities 10:1;
# shares 5:1; crypto 2:1. The instruments' classes do not tell gold from other metals, nor a
# major index from another: metals and indices take gold's and the major indices' 20:1.
RETAIL = {
    "fx_major": 30,
    "fx_minor": 20,
    "fx_exotic": 20,
    "metals": 20,
    "indices": 20,
    "energies": 10,
    "stocks": 5,
    "crypto": 2,
}
BASIS = {
    "EEA": "ESMA product intervention on CFDs (Decision (EU) 2018/796), as adopted nationally",
    "UK": "FCA COBS 22.5 (PS19/18): CFD leverage limits for retail clients",
    "AU": "ASIC Product Intervention Order on CFDs (ASIC Instrument 2020/986)",
}


def forwards(apps, schema_editor):
    Region = apps.get_model("brokerage", "LeverageRegion")
    RegionHistory = apps.get_model("brokerage", "HistoricalLeverageRegion")
    now = timezone.now()
    for code, (name, countries) in REGIONS.items():
        region, created = Region.objects.get_or_create(
            code=code, defaults={"name": name, "countries": countries.split()}
        )
        if created:
            fields = {f.attname: getattr(region, f.attname) for f in Region._meta.concrete_fields}
            RegionHistory.objects.create(**fields, history_date=now, history_type="+")
    limits_add(apps, schema_editor)


def limits_add(apps, schema_editor):
    """The shipped limits that are missing (the regions they name are brokerage 0014's)."""
    Limit = apps.get_model("brokerage", "LeverageLimit")
    LimitHistory = apps.get_model("brokerage", "HistoricalLeverageLimit")
    now = timezone.now()
    for jurisdiction, basis in BASIS.items():
        for instrument_class, cap in RETAIL.items():
            limit, created = Limit.objects.get_or_create(
                jurisdiction=jurisdiction,
                category="retail",
                instrument_class=instrument_class,
                defaults={
                    "max_leverage": cap,
                    "basis": basis,
                    "updated_at": now,
                    "updated_by_label": ACTOR,
                },
            )
            if not created:
                continue
            fields = {f.attname: getattr(limit, f.attname) for f in Limit._meta.concrete_fields}
            LimitHistory.objects.create(**fields, history_date=now, history_type="+")


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0011_leverage_limits")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
