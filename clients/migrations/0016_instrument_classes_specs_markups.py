"""Instruments get the classes commission plans group by (FX major, minor, exotic, metals,
energies, indices, crypto, stocks: the six coarse asset classes mapped, FX by its pair), a
contract size, digits and quote currency (empty until set; FX pairs and metals take their quote
currency from their name); account types get their book and markups per instrument; all three
keep a history of their edits."""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

import clients.instruments

BACK = {"metals": "metal", "energies": "commodity", "indices": "index", "stocks": "stock"}


def forwards(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    for row in Instrument.objects.all():
        row.asset_class = clients.instruments.class_for(row.asset_class, row.symbol)
        if not row.quote_currency:
            row.quote_currency = clients.instruments.quote_currency_guess(
                row.symbol, row.asset_class
            )
        row.save(update_fields=["asset_class", "quote_currency"])


def backwards(apps, schema_editor):
    Instrument = apps.get_model("clients", "Instrument")
    for row in Instrument.objects.all():
        coarse = "fx" if row.asset_class.startswith("fx_") else BACK.get(row.asset_class)
        Instrument.objects.filter(pk=row.pk).update(asset_class=coarse or row.asset_class)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0015_deal_position_open_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountTypeMarkup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "markup_points",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="Points added to the spread (5 digits: 10 points = 1 pip).",
                        max_digits=10,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
            ],
            options={
                "ordering": ["account_type", "instrument__symbol"],
            },
        ),
        migrations.CreateModel(
            name="HistoricalAccountType",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=80)),
                (
                    "group",
                    models.CharField(
                        help_text="The platform group, e.g. real\\standard-usd", max_length=64
                    ),
                ),
                ("currency", models.CharField(max_length=3)),
                (
                    "leverages",
                    models.JSONField(
                        default=list, help_text="Leverages offered, e.g. [30, 100, 200]."
                    ),
                ),
                ("default_leverage", models.PositiveIntegerField(default=100)),
                ("min_kyc_level", models.PositiveSmallIntegerField(default=0)),
                ("is_active", models.BooleanField(default=True)),
                ("order", models.PositiveSmallIntegerField(default=0)),
                (
                    "book",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("a_book", "A-book (passed to liquidity providers)"),
                            ("b_book", "B-book (kept in house)"),
                        ],
                        help_text="Where its clients' trades go; empty until ops set it.",
                        max_length=10,
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
            ],
            options={
                "verbose_name": "historical account type",
                "verbose_name_plural": "historical account types",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalAccountTypeMarkup",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                (
                    "markup_points",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="Points added to the spread (5 digits: 10 points = 1 pip).",
                        max_digits=10,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
            ],
            options={
                "verbose_name": "historical account type markup",
                "verbose_name_plural": "historical account type markups",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalInstrument",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("symbol", models.CharField(db_index=True, max_length=32)),
                ("description", models.CharField(blank=True, max_length=100)),
                (
                    "asset_class",
                    models.CharField(
                        choices=[
                            ("fx_major", "FX major"),
                            ("fx_minor", "FX minor"),
                            ("fx_exotic", "FX exotic"),
                            ("metals", "Metals"),
                            ("energies", "Energies"),
                            ("indices", "Indices"),
                            ("crypto", "Crypto"),
                            ("stocks", "Stocks"),
                        ],
                        help_text="What commission plans and leverage limits group it by.",
                        max_length=12,
                        verbose_name="class",
                    ),
                ),
                (
                    "aliases",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text='Other names servers use, e.g. ["GOLD"].',
                    ),
                ),
                (
                    "contract_size",
                    models.DecimalField(
                        blank=True,
                        decimal_places=4,
                        help_text="Units per lot (FX 100000, XAUUSD 100); empty until set.",
                        max_digits=20,
                        null=True,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
                    ),
                ),
                (
                    "digits",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="Price decimals, 0 to 8 (EURUSD 5, USDJPY 3); empty until set.",
                        null=True,
                        validators=[django.core.validators.MaxValueValidator(8)],
                    ),
                ),
                (
                    "quote_currency",
                    models.CharField(
                        blank=True,
                        help_text="The currency its profit and point value are in (EURUSD: USD).",
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}$", "Three capital letters (ISO 4217), e.g. USD."
                            )
                        ],
                    ),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
            ],
            options={
                "verbose_name": "historical instrument",
                "verbose_name_plural": "historical instruments",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddField(
            model_name="accounttype",
            name="book",
            field=models.CharField(
                blank=True,
                choices=[
                    ("a_book", "A-book (passed to liquidity providers)"),
                    ("b_book", "B-book (kept in house)"),
                ],
                help_text="Where its clients' trades go; empty until ops set it.",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="instrument",
            name="contract_size",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="Units per lot (FX 100000, XAUUSD 100); empty until set.",
                max_digits=20,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0.0001"))],
            ),
        ),
        migrations.AddField(
            model_name="instrument",
            name="digits",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="Price decimals, 0 to 8 (EURUSD 5, USDJPY 3); empty until set.",
                null=True,
                validators=[django.core.validators.MaxValueValidator(8)],
            ),
        ),
        migrations.AddField(
            model_name="instrument",
            name="quote_currency",
            field=models.CharField(
                blank=True,
                help_text="The currency its profit and point value are in (EURUSD: USD).",
                max_length=3,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Z]{3}$", "Three capital letters (ISO 4217), e.g. USD."
                    )
                ],
            ),
        ),
        migrations.AlterField(
            model_name="instrument",
            name="asset_class",
            field=models.CharField(
                choices=[
                    ("fx_major", "FX major"),
                    ("fx_minor", "FX minor"),
                    ("fx_exotic", "FX exotic"),
                    ("metals", "Metals"),
                    ("energies", "Energies"),
                    ("indices", "Indices"),
                    ("crypto", "Crypto"),
                    ("stocks", "Stocks"),
                ],
                help_text="What commission plans and leverage limits group it by.",
                max_length=12,
                verbose_name="class",
            ),
        ),
        migrations.AddConstraint(
            model_name="instrument",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("contract_size__isnull", True), ("contract_size__gt", 0), _connector="OR"
                ),
                name="clients_instrument_contract_size_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="instrument",
            constraint=models.CheckConstraint(
                condition=models.Q(("digits__isnull", True), ("digits__lte", 8), _connector="OR"),
                name="clients_instrument_digits_range",
            ),
        ),
        migrations.AddField(
            model_name="accounttypemarkup",
            name="account_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="markups",
                to="clients.accounttype",
            ),
        ),
        migrations.AddField(
            model_name="accounttypemarkup",
            name="instrument",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="markups",
                to="clients.instrument",
            ),
        ),
        migrations.AddField(
            model_name="historicalaccounttype",
            name="history_user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalaccounttype",
            name="server",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="clients.tradingserver",
            ),
        ),
        migrations.AddField(
            model_name="historicalaccounttypemarkup",
            name="account_type",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="clients.accounttype",
            ),
        ),
        migrations.AddField(
            model_name="historicalaccounttypemarkup",
            name="history_user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalaccounttypemarkup",
            name="instrument",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="clients.instrument",
            ),
        ),
        migrations.AddField(
            model_name="historicalinstrument",
            name="history_user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="accounttypemarkup",
            constraint=models.UniqueConstraint(
                fields=("account_type", "instrument"), name="clients_accounttypemarkup_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="accounttypemarkup",
            constraint=models.CheckConstraint(
                condition=models.Q(("markup_points__gte", 0)),
                name="clients_accounttypemarkup_points",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
