"""Each client gets a payment reference (ISO 11649) for bank wires: added empty, filled for
the clients there are, then made unique and required (new clients get one by default)."""

from django.db import migrations, models

import clients.payment_reference


def fill(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    taken = set()
    for client in Client.objects.filter(payment_reference__isnull=True).only("pk").iterator():
        ref = clients.payment_reference.new_client_reference()
        while ref in taken:
            ref = clients.payment_reference.new_client_reference()
        taken.add(ref)
        Client.objects.filter(pk=client.pk).update(payment_reference=ref)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0010_deal_position_volume_ext"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="payment_reference",
            field=models.CharField(max_length=25, null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="client",
            name="payment_reference",
            field=models.CharField(
                default=clients.payment_reference.new_client_reference,
                editable=False,
                help_text="What the client writes on a bank wire (ISO 11649 RF creditor reference).",
                max_length=25,
                unique=True,
            ),
        ),
        migrations.AddField(
            model_name="historicalclient",
            name="payment_reference",
            field=models.CharField(
                db_index=True,
                default=clients.payment_reference.new_client_reference,
                editable=False,
                help_text="What the client writes on a bank wire (ISO 11649 RF creditor reference).",
                max_length=25,
            ),
        ),
    ]
