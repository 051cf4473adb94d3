"""The shipped retail limits on the finer classes instruments now have (gold among metals, the
major indices among indices): ESMA, the FCA and ASIC give gold and major indices 20:1 and other
metals and non-major indices 10:1 (docs/leverage-limits.md). Gold and major indices get their
own 20:1 limits; metals and indices, as shipped at 20:1 (before the classes told them apart),
go to 10:1. A limit a compliance officer changed since is left as they set it. Each change is
recorded in the limits' history (by "system:migration")."""

from django.db import migrations
from django.utils import timezone

ACTOR = "system:migration"
BASIS = {
    "EEA": "ESMA product intervention on CFDs (Decision (EU) 2018/796), as adopted nationally",
    "UK": "FCA COBS 22.5 (PS19/18): CFD leverage limits for retail clients",
    "AU": "ASIC Product Intervention Order on CFDs (ASIC Instrument 2020/986)",
}
ADDED = {"gold": 20, "indices_major": 20}
LOWERED = {"metals": (20, 10), "indices": (20, 10)}  # class: (as shipped, now)


def _history(Limit, LimitHistory, limit, now, kind):
    fields = {f.attname: getattr(limit, f.attname) for f in Limit._meta.concrete_fields}
    LimitHistory.objects.create(**fields, history_date=now, history_type=kind)


def forwards(apps, schema_editor):
    Limit = apps.get_model("brokerage", "LeverageLimit")
    LimitHistory = apps.get_model("brokerage", "HistoricalLeverageLimit")
    now = timezone.now()
    for jurisdiction, basis in BASIS.items():
        for instrument_class, cap in ADDED.items():
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
            if created:
                _history(Limit, LimitHistory, limit, now, "+")
        for instrument_class, (shipped, cap) in LOWERED.items():
            for limit in Limit.objects.filter(
                jurisdiction=jurisdiction,
                category="retail",
                instrument_class=instrument_class,
                max_leverage=shipped,
                updated_by_label=ACTOR,
            ):
                limit.max_leverage, limit.updated_at = cap, now
                limit.save(update_fields=["max_leverage", "updated_at"])
                _history(Limit, LimitHistory, limit, now, "~")


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0012_leverage_limits_default")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
