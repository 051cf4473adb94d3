"""The client terms: versions of the client agreement, risk disclosure and privacy notice,
and each client's acceptances. Both are append-only in the database (no UPDATE or DELETE;
TRUNCATE only where the session allows the audit log's, as test databases do): a published
version never changes, an acceptance is never taken back."""

import django.db.models.deletion
from django.db import migrations, models


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION clients_terms_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the client terms are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER clients_termsversion_append_only
    BEFORE UPDATE OR DELETE ON clients_termsversion
    FOR EACH ROW EXECUTE FUNCTION clients_terms_append_only();
CREATE TRIGGER clients_termsversion_no_truncate
    BEFORE TRUNCATE ON clients_termsversion
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();
CREATE TRIGGER clients_termsacceptance_append_only
    BEFORE UPDATE OR DELETE ON clients_termsacceptance
    FOR EACH ROW EXECUTE FUNCTION clients_terms_append_only();
CREATE TRIGGER clients_termsacceptance_no_truncate
    BEFORE TRUNCATE ON clients_termsacceptance
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();
"""
APPEND_ONLY_REVERSE = """
DROP TRIGGER IF EXISTS clients_termsacceptance_no_truncate ON clients_termsacceptance;
DROP TRIGGER IF EXISTS clients_termsacceptance_append_only ON clients_termsacceptance;
DROP TRIGGER IF EXISTS clients_termsversion_no_truncate ON clients_termsversion;
DROP TRIGGER IF EXISTS clients_termsversion_append_only ON clients_termsversion;
DROP FUNCTION IF EXISTS clients_terms_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("brokerage", "0003_audit_truncate_and_head_guard"),
        ('clients', '0035_team_dashboards'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='client',
            options={'ordering': ['-created_at'], 'permissions': [('view_all_clients', "Can see every client's 360"), ('view_desk_clients', "Can see the 360 of the desk's clients"), ('work_retention', 'Can work the retention queue'), ('manage_retention', 'Can configure retention thresholds and templates'), ('answer_tickets', 'Can answer and close support tickets'), ('view_platform_sync', 'Can see trading platform sync status'), ('manage_aml_case', "Can open and close a client's AML case"), ('review_client_emails', 'Can review the emails clients are sent'), ('decide_category', "Can decide a client's category"), ('change_account_leverage', "Can change a trading account's leverage"), ('publish_terms', 'Can publish a new version of the client terms')]},
        ),
        migrations.CreateModel(
            name='TermsVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('document', models.CharField(choices=[('client_agreement', 'Client agreement'), ('risk_disclosure', 'Risk disclosure'), ('privacy_notice', 'Privacy notice')], max_length=20)),
                ('version', models.PositiveIntegerField()),
                ('title', models.CharField(max_length=140)),
                ('text', models.TextField(help_text='What the client accepts, as they read it.')),
                ('changes', models.TextField(blank=True, help_text='What changed since the previous version, in plain words.')),
                ('text_sha256', models.CharField(max_length=64)),
                ('effective_at', models.DateTimeField(help_text='When it takes effect (UTC).')),
                ('reacceptance_required', models.BooleanField(default=True, help_text='Clients who accepted an earlier version accept this one before going on.')),
                ('published_at', models.DateTimeField()),
                ('published_by', models.CharField(max_length=254)),
            ],
            options={
                'ordering': ['document', '-version'],
                'constraints': [models.UniqueConstraint(fields=('document', 'version'), name='clients_terms_version_unique'), models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='clients_terms_version_positive')],
            },
        ),
        migrations.CreateModel(
            name='TermsAcceptance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('accepted_at', models.DateTimeField()),
                ('ip', models.GenericIPAddressField(blank=True, null=True)),
                ('user_agent', models.CharField(blank=True, max_length=300)),
                ('text_sha256', models.CharField(help_text='The SHA-256 of the text the client was shown.', max_length=64)),
                ('client', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='terms_acceptances', to='clients.client')),
                ('terms', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='acceptances', to='clients.termsversion')),
            ],
            options={
                'ordering': ['-accepted_at'],
                'constraints': [models.UniqueConstraint(fields=('client', 'terms'), name='clients_terms_accepted_once')],
            },
        ),
        migrations.RunSQL(sql=APPEND_ONLY, reverse_sql=APPEND_ONLY_REVERSE),
    ]
