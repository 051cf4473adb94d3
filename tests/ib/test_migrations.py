"""Attribution lives in ib: a database made before the move keeps every lead's IB credit.
(That no leads migration depends on ib, or any app's on a higher one: tests/test_layers.py.)"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ib.models import Attribution
from leads.models import Channel, Lead
from tests.conftest import make_partner_user


@pytest.mark.django_db(transaction=True)
def test_an_older_databases_lead_partners_move_to_ib():
    """Before the move, leads' first migration made `leads_lead.partner_id`: rebuild that
    shape, then run ib's migration that takes the credits over."""
    partner = make_partner_user().partner
    api = Lead.objects.create(email="a@example.com", channel=Channel.API, referral_code="X1")
    portal = Lead.objects.create(email="p@example.com", channel=Channel.PORTAL)
    Lead.objects.create(email="direct@example.com", channel=Channel.API)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("ib")
    try:
        executor.migrate([("ib", "0002_referral")])
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE leads_lead ADD COLUMN partner_id bigint NULL "
                "REFERENCES ib_partner (id) DEFERRABLE INITIALLY DEFERRED"
            )
            cursor.execute("ALTER TABLE leads_historicallead ADD COLUMN partner_id bigint NULL")
            cursor.execute(
                "UPDATE leads_lead SET partner_id = %s WHERE id IN (%s, %s)",
                [partner.pk, api.pk, portal.pk],
            )
        executor = MigrationExecutor(connection)
        executor.migrate([("ib", "0003_attribution")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    credits = {a.lead_id: a for a in Attribution.objects.all()}
    assert set(credits) == {api.pk, portal.pk}
    assert credits[api.pk].source == "api" and credits[api.pk].code == "X1"
    assert credits[portal.pk].source == "link" and credits[portal.pk].code == "IBTEST01"
    assert all(a.partner_id == partner.pk and a.made_at <= timezone.now() for a in credits.values())
    with connection.cursor() as cursor:
        for table in ("leads_lead", "leads_historicallead"):
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, table)
            }
            assert "partner_id" not in columns, table
