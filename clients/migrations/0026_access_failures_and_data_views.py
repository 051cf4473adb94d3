"""Failed sign-ins and second-factor codes join the sign-in records; staff views of a client's
personal data get their own log, append-only in the database like the audit log (no UPDATE or
DELETE; TRUNCATE only where the session allows the audit log's, as test databases do)."""

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION clients_pdview_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the personal data access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER clients_personaldataview_append_only
    BEFORE UPDATE OR DELETE ON clients_personaldataview
    FOR EACH ROW EXECUTE FUNCTION clients_pdview_append_only();
CREATE TRIGGER clients_personaldataview_no_truncate
    BEFORE TRUNCATE ON clients_personaldataview
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();
"""
APPEND_ONLY_REVERSE = """
DROP TRIGGER IF EXISTS clients_personaldataview_no_truncate ON clients_personaldataview;
DROP TRIGGER IF EXISTS clients_personaldataview_append_only ON clients_personaldataview;
DROP FUNCTION IF EXISTS clients_pdview_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("brokerage", "0003_audit_truncate_and_head_guard"),
        ("clients", "0025_client_risk_db_defaults"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PersonalDataView",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "what",
                    models.CharField(
                        choices=[
                            ("client_360", "Client 360"),
                            ("kyc_case", "KYC case"),
                            ("kyc_document", "KYC document"),
                            ("source_of_funds", "Source-of-funds document"),
                            ("screening_alert", "Screening alert"),
                            ("dossier", "Dossier"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "detail",
                    models.CharField(
                        blank=True,
                        help_text="Which one, e.g. 'passport front' or a case id.",
                        max_length=120,
                    ),
                ),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="accessrecord",
            name="identifier",
            field=models.CharField(
                blank=True,
                help_text="The address a failed attempt typed, lower-cased.",
                max_length=254,
            ),
        ),
        migrations.AlterField(
            model_name="accessrecord",
            name="kind",
            field=models.CharField(
                choices=[
                    ("signup", "Sign-up"),
                    ("login", "Sign-in"),
                    ("login_failed", "Failed sign-in"),
                    ("mfa_failed", "Wrong second-factor code"),
                ],
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="accessrecord",
            name="user",
            field=models.ForeignKey(
                blank=True,
                help_text="Who signed in, or whose address a failed attempt typed (none if nobody's).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="accessrecord",
            index=models.Index(fields=["user", "-at"], name="clients_access_user"),
        ),
        migrations.AddIndex(
            model_name="accessrecord",
            index=models.Index(
                condition=models.Q(("kind__in", ["login_failed", "mfa_failed"])),
                fields=["-at"],
                name="clients_access_failed_at",
            ),
        ),
        migrations.AddField(
            model_name="personaldataview",
            name="client",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clients.client",
            ),
        ),
        migrations.AddField(
            model_name="personaldataview",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="personaldataview",
            index=models.Index(fields=["client", "-at"], name="clients_pdview_client"),
        ),
        migrations.AddIndex(
            model_name="personaldataview",
            index=models.Index(fields=["user", "-at"], name="clients_pdview_user"),
        ),
        migrations.AddIndex(
            model_name="personaldataview",
            index=django.contrib.postgres.indexes.BrinIndex(
                fields=["at"], name="clients_pdview_at"
            ),
        ),
        migrations.RunSQL(sql=APPEND_ONLY, reverse_sql=APPEND_ONLY_REVERSE),
    ]
