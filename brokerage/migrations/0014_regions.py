"""One regions table for every app (`brokerage.Region`): the leverage limits' regions
(`LeverageRegion`: EEA, UK, AU) move here with their ids and history; ib's own regions (EEA,
GCC, LATAM) follow in ib 0022, which points the plan rates at this table. The rows shipped
here are recorded in their history (by "system:migration"), not the audit log.

`regions_add` puts back the regions a new installation has after both migrations (a test's
emptied database): EEA, UK and AU as the regulators define them, GCC and LATAM as ib shipped
them."""

import django.contrib.postgres.fields
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

ACTOR = "system:migration"
EEA = (
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK"
)
REGIONS = {
    "EEA": ("European Economic Area", EEA),
    "UK": ("United Kingdom", "GB"),
    "AU": ("Australia", "AU"),
    "GCC": ("Gulf Cooperation Council", "AE BH KW OM QA SA"),
    "LATAM": ("Latin America", "AR BO BR CL CO CR CU DO EC GT HN MX NI PA PE PY SV UY VE"),
}
FIELDS = ("id", "code", "name", "countries", "updated_at", "updated_by_label")


def _history(History, region, **extra):
    values = {f: getattr(region, f) for f in FIELDS}
    History.objects.create(**values, **extra)


def leverage_regions_move(apps, schema_editor):
    """Each leverage region with its id (so its history stays its own) and its history."""
    Old = apps.get_model("brokerage", "LeverageRegion")
    OldHistory = apps.get_model("brokerage", "HistoricalLeverageRegion")
    Region = apps.get_model("brokerage", "Region")
    History = apps.get_model("brokerage", "HistoricalRegion")
    now = timezone.now()
    for old in Old.objects.order_by("pk"):
        Region.objects.create(
            id=old.pk,
            code=old.code,
            name=old.name,
            countries=sorted({str(c).upper() for c in old.countries or []}),
            updated_at=now,
            updated_by_label=ACTOR,
        )
    for row in OldHistory.objects.order_by("history_id"):
        History.objects.create(
            id=row.id,
            code=row.code,
            name=row.name,
            countries=sorted({str(c).upper() for c in row.countries or []}),
            updated_at=row.history_date,
            updated_by_label=ACTOR,
            history_date=row.history_date,
            history_type=row.history_type,
            history_change_reason=row.history_change_reason,
            history_user_id=row.history_user_id,
        )
    schema_editor.execute(
        "SELECT setval(pg_get_serial_sequence('brokerage_region', 'id'),"
        " COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM brokerage_region"
    )


def regions_add(apps, schema_editor):
    """The shipped regions that are missing, each recorded in its history."""
    Region = apps.get_model("brokerage", "Region")
    History = apps.get_model("brokerage", "HistoricalRegion")
    now = timezone.now()
    for code, (name, countries) in REGIONS.items():
        region, created = Region.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "countries": sorted(countries.split()),
                "updated_at": now,
                "updated_by_label": ACTOR,
            },
        )
        if created:
            _history(History, region, history_date=now, history_type="+")


class Migration(migrations.Migration):

    dependencies = [
        ('brokerage', '0013_leverage_limits_finer_classes'),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalRegion',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('code', models.CharField(db_index=True, help_text='A short name, e.g. EEA; fixed once the region is made.', max_length=8, validators=[django.core.validators.RegexValidator('^[A-Z0-9_-]{2,8}$', '2-8 of A-Z, 0-9, _ and -.')])),
                ('name', models.CharField(max_length=100)),
                ('countries', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=2), default=list, help_text='ISO 3166-1 alpha-2 codes.', size=None)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_by_label', models.CharField(blank=True, max_length=254)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical region',
                'verbose_name_plural': 'historical regions',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='Region',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(help_text='A short name, e.g. EEA; fixed once the region is made.', max_length=8, unique=True, validators=[django.core.validators.RegexValidator('^[A-Z0-9_-]{2,8}$', '2-8 of A-Z, 0-9, _ and -.')])),
                ('name', models.CharField(max_length=100)),
                ('countries', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=2), default=list, help_text='ISO 3166-1 alpha-2 codes.', size=None)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_by_label', models.CharField(blank=True, max_length=254)),
            ],
            options={
                'ordering': ['code'],
                'permissions': [('manage_regions', 'Can make and change regions')],
            },
        ),
        migrations.RunPython(leverage_regions_move, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='historicalleverageregion',
            name='history_user',
        ),
        migrations.DeleteModel(
            name='LeverageRegion',
        ),
        migrations.DeleteModel(
            name='HistoricalLeverageRegion',
        ),
    ]
