"""The audit chain is sealed after commit instead of inside every writer's transaction.

Until now each `audit_record` locked the chain head until its transaction committed, so every
audited write of every department took turns on one row. From here on writers only INSERT the
event; a sealer chains committed events shortly after commit into `AuditSeal` rows (seq,
prev_hash, hash), moving the head forward once per batch.

- Events written before this migration keep their place and hash: their (seq, prev_hash, hash)
  move to seals, and they keep hash format 1. New events use format 2, which also covers the
  event's id, its subject client and the format version.
- Events gain the client they are about (`subject_client_id`), indexed with the id.
- Seals are append-only like events (no UPDATE, DELETE or unguarded TRUNCATE).
- The head may only move forward, and only onto a seal that exists with that hash: it can no
  longer be reset, nor moved past the chain, whoever connects.
"""

from django.db import migrations, models

COPY_CHAIN = """
INSERT INTO brokerage_auditseal (event_id, seq, prev_hash, hash, sealed_at)
    SELECT id, seq, prev_hash, hash, occurred_at FROM brokerage_auditevent;
INSERT INTO brokerage_auditsealerstate (id, sealed_through_id, holes, updated_at)
    SELECT 1, coalesce(max(id), 0), '[]'::jsonb, now() FROM brokerage_auditevent;
"""

GUARDS = """
CREATE OR REPLACE FUNCTION brokerage_auditseal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on brokerage_auditseal refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER brokerage_auditseal_no_update_delete
    BEFORE UPDATE OR DELETE ON brokerage_auditseal
    FOR EACH ROW EXECUTE FUNCTION brokerage_auditseal_append_only();
CREATE TRIGGER brokerage_auditseal_no_truncate
    BEFORE TRUNCATE ON brokerage_auditseal
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();

CREATE OR REPLACE FUNCTION brokerage_auditchainhead_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain head cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq OR NOT EXISTS (
        SELECT 1 FROM brokerage_auditseal WHERE seq = NEW.seq AND hash = NEW.last_hash
    ) THEN
        RAISE EXCEPTION 'the audit chain head only moves forward, onto a seal'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
"""

GUARDS_BACKWARD = """
DROP TRIGGER IF EXISTS brokerage_auditseal_no_truncate ON brokerage_auditseal;
DROP TRIGGER IF EXISTS brokerage_auditseal_no_update_delete ON brokerage_auditseal;
DROP FUNCTION IF EXISTS brokerage_auditseal_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0005_encrypt_mfa_secrets")]

    operations = [
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="seal",
                        serialize=False,
                        to="brokerage.auditevent",
                    ),
                ),
                ("seq", models.BigIntegerField(unique=True)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField()),
            ],
            options={"ordering": ["seq"]},
        ),
        migrations.CreateModel(
            name="AuditSealerState",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, primary_key=True, serialize=False
                    ),
                ),
                ("sealed_through_id", models.BigIntegerField(default=0)),
                ("holes", models.JSONField(blank=True, default=list)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunSQL(COPY_CHAIN, migrations.RunSQL.noop),
        # Existing events keep the format their hash was computed with.
        migrations.AddField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2, editable=False),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="subject_client_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RemoveIndex(
            model_name="auditevent", name="brokerage_a_target__09581e_idx"
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-id"],
                "permissions": [("export_audit_trail", "Can export audit trails")],
            },
        ),
        migrations.RemoveField(model_name="auditevent", name="seq"),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.AlterField(
            model_name="auditevent",
            name="target_type",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="target_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_type", "target_id", "id"], name="audit_target_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["subject_client_id", "id"], name="audit_subject_idx"),
        ),
        migrations.RunSQL(GUARDS, GUARDS_BACKWARD),
    ]
