# Opposite trades (clients.links) find the sells opened on a symbol within seconds of a buy by
# range over this index. Built concurrently: the deals table is the largest, and the platform
# sync keeps writing to it while the index is built.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("clients", "0017_access_records"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("action__in", [0, 1]), ("entry", 0)),
                fields=["symbol", "time"],
                name="clients_deal_opening_symbol",
            ),
        ),
    ]
