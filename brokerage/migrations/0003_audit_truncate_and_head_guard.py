"""Close the gaps around the append-only audit log.

- TRUNCATE of the log or its chain head is refused, unless the session sets
  `brokerage.allow_audit_truncate = on` (the test settings do: test databases are flushed with
  TRUNCATE between tests). Production connections never set it.
- The chain head row cannot be deleted, and only moves forward one event at a time, so the log
  cannot be wiped and the head reset to make an empty chain verify.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION brokerage_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('brokerage.allow_audit_truncate', true), '') <> 'on' THEN
        RAISE EXCEPTION 'the audit log is append-only: TRUNCATE on % refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER brokerage_auditevent_no_truncate
    BEFORE TRUNCATE ON brokerage_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();
CREATE TRIGGER brokerage_auditchainhead_no_truncate
    BEFORE TRUNCATE ON brokerage_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION brokerage_audit_no_truncate();

CREATE OR REPLACE FUNCTION brokerage_auditchainhead_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit chain head cannot be deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 THEN
        RAISE EXCEPTION 'the audit chain head only moves forward one event at a time'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER brokerage_auditchainhead_forward_only
    BEFORE UPDATE OR DELETE ON brokerage_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION brokerage_auditchainhead_forward_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS brokerage_auditchainhead_forward_only ON brokerage_auditchainhead;
DROP FUNCTION IF EXISTS brokerage_auditchainhead_forward_only();
DROP TRIGGER IF EXISTS brokerage_auditchainhead_no_truncate ON brokerage_auditchainhead;
DROP TRIGGER IF EXISTS brokerage_auditevent_no_truncate ON brokerage_auditevent;
DROP FUNCTION IF EXISTS brokerage_audit_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0002_audit_append_only")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
