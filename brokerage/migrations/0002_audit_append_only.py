"""The audit log is append-only in the database itself, whoever connects.

UPDATE and DELETE on brokerage_auditevent raise. (TRUNCATE is left to the table owner: test
databases are flushed with it.) The chain head row is created here.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION brokerage_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on brokerage_auditevent refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER brokerage_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON brokerage_auditevent
    FOR EACH ROW EXECUTE FUNCTION brokerage_auditevent_append_only();

INSERT INTO brokerage_auditchainhead (id, seq, last_hash)
    VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS brokerage_auditevent_no_update_delete ON brokerage_auditevent;
DROP FUNCTION IF EXISTS brokerage_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("brokerage", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
