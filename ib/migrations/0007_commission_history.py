"""The tree and the referrals as they stood (from the partners and referrals on record), and a
database guard: a plan version that has paid a line, and its rates, never change."""

from django.db import migrations


def record_history(apps, schema_editor):
    Partner = apps.get_model("ib", "Partner")
    Referral = apps.get_model("ib", "Referral")
    ParentLink = apps.get_model("ib", "ParentLink")
    ReferralLink = apps.get_model("ib", "ReferralLink")
    for partner in Partner.objects.filter(parent__isnull=False):
        ParentLink.objects.get_or_create(
            partner=partner,
            valid_from=partner.created_at,
            defaults={"parent_id": partner.parent_id, "set_by": "system:migration"},
        )
    for referral in Referral.objects.select_related("client"):
        ReferralLink.objects.get_or_create(
            client_id=referral.client_id,
            valid_from=min(referral.client.created_at, referral.attributed_at),
            defaults={"partner_id": referral.partner_id, "set_by": "system:migration"},
        )


GUARD = """
CREATE FUNCTION ib_paid_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paid boolean;
BEGIN
    IF TG_TABLE_NAME = 'ib_planversion' THEN
        IF OLD.paid_lines AND (
            NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.entry <> OLD.entry
            OR NEW.min_hold_seconds <> OLD.min_hold_seconds OR NEW.tiers <> OLD.tiers
            OR NEW.tier_percent <> OLD.tier_percent OR NEW.self_trading <> OLD.self_trading
            OR NEW.plan_id <> OLD.plan_id OR NOT NEW.paid_lines
        ) THEN
            RAISE EXCEPTION 'plan version % has paid commission lines: it cannot change', OLD.id;
        END IF;
        RETURN NEW;
    END IF;
    SELECT v.paid_lines INTO paid FROM ib_planversion v
     WHERE v.id = CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
    IF paid THEN
        RAISE EXCEPTION 'plan version % has paid commission lines: its rates cannot change',
            CASE WHEN TG_OP = 'INSERT' THEN NEW.version_id ELSE OLD.version_id END;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER ib_planversion_paid_guard BEFORE UPDATE ON ib_planversion
    FOR EACH ROW EXECUTE FUNCTION ib_paid_version_guard();
CREATE TRIGGER ib_planrule_paid_guard BEFORE INSERT OR UPDATE OR DELETE ON ib_planrule
    FOR EACH ROW EXECUTE FUNCTION ib_paid_version_guard();
"""

UNGUARD = """
DROP TRIGGER ib_planrule_paid_guard ON ib_planrule;
DROP TRIGGER ib_planversion_paid_guard ON ib_planversion;
DROP FUNCTION ib_paid_version_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("ib", "0006_commission_plans")]

    operations = [
        migrations.RunPython(record_history, migrations.RunPython.noop),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
