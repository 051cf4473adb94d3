"""The plan rates' regions move to the kernel's one regions table (`brokerage.Region`, brokerage
0014), and `ib.Region` goes.

Each ib region becomes the kernel region of the same code, made here when the kernel has none.
Where the kernel already has the code (the EEA, which the leverage limits' regions brought):
- the same countries: the rates point at the kernel's region;
- other countries: the regulator's list is kept (the kernel's, as the leverage limits define
  the EEA), and the rates point at it; unless a version pricing by ib's region has paid a
  line, whose countries must stay as they were paid (a closed period reproduces): then ib's
  region is kept under a code of its own (`EEA-IB`, its name saying so) and its rates point
  there. As shipped, both EEA lists hold the same 30 countries, so the EEA is one region.
A code longer than the kernel's 8 characters is cut (and numbered where that collides).
Each region made here is recorded in its history (by "system:migration")."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

ACTOR = "system:migration"
FIELDS = ("id", "code", "name", "countries", "updated_at", "updated_by_label")


def _free_code(Region, code: str) -> str:
    code = code[:8]
    n = 1
    while Region.objects.filter(code=code).exists():
        n += 1
        code = f"{code[:6]}-{n}"[:8]
    return code


def regions_move(apps, schema_editor):
    Old = apps.get_model("ib", "Region")
    Rule = apps.get_model("ib", "PlanRule")
    Region = apps.get_model("brokerage", "Region")
    History = apps.get_model("brokerage", "HistoricalRegion")
    now = timezone.now()
    # A paid version's rates are guarded by a trigger (ib 0007): pointing them at the same
    # countries' kernel region changes no rate, so the guard stands aside for this update only.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute("ALTER TABLE ib_planrule DISABLE TRIGGER ib_planrule_paid_guard")
    for old in Old.objects.order_by("pk"):
        countries = sorted({c.upper() for c in old.countries})
        paid = Rule.objects.filter(region_id=old.pk, version__paid_lines=True).exists()
        region = Region.objects.filter(code=old.code[:8]).first()
        if region is not None and sorted(region.countries) != countries and paid:
            region = None
            code, name = _free_code(Region, f"{old.code[:5]}-IB"), f"{old.name} (IB rates)"
        elif region is None:
            code, name = _free_code(Region, old.code), old.name
        if region is None:
            region = Region.objects.create(
                code=code,
                name=name[:100],
                countries=countries,
                updated_at=now,
                updated_by_label=ACTOR,
            )
            values = {f: getattr(region, f) for f in FIELDS}
            History.objects.create(**values, history_date=now, history_type="+")
        Rule.objects.filter(region_id=old.pk).update(kernel_region=region)
    schema_editor.execute("ALTER TABLE ib_planrule ENABLE TRIGGER ib_planrule_paid_guard")


class Migration(migrations.Migration):
    dependencies = [
        ("brokerage", "0014_regions"),
        ("ib", "0021_rule_client_scope"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="planrule", name="ib_planrule_unique_scope"),
        migrations.RemoveConstraint(model_name="planrule", name="ib_planrule_country_or_region"),
        migrations.AddField(
            model_name="planrule",
            name="kernel_region",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="brokerage.region",
            ),
        ),
        migrations.RunPython(regions_move, migrations.RunPython.noop),
        migrations.RemoveField(model_name="planrule", name="region"),
        migrations.RenameField(model_name="planrule", old_name="kernel_region", new_name="region"),
        migrations.AlterField(
            model_name="planrule",
            name="region",
            field=models.ForeignKey(
                blank=True,
                help_text="Only clients resident in this region, or empty (with no country).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="brokerage.region",
            ),
        ),
        migrations.AddConstraint(
            model_name="planrule",
            constraint=models.UniqueConstraint(
                fields=(
                    "version",
                    "kind",
                    "symbol",
                    "symbol_group",
                    "account_type",
                    "country",
                    "region",
                ),
                name="ib_planrule_unique_scope",
                nulls_distinct=False,
            ),
        ),
        migrations.AddConstraint(
            model_name="planrule",
            constraint=models.CheckConstraint(
                condition=models.Q(("country", ""), ("region__isnull", True), _connector="OR"),
                name="ib_planrule_country_or_region",
            ),
        ),
        migrations.DeleteModel(name="Region"),
    ]
