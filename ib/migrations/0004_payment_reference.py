"""Each IB partner gets a payment reference (ISO 11649) for bank wires: added empty, filled for
the partners there are, then made unique and required (new partners get one by default)."""

from django.db import migrations, models

import clients.payment_reference


def fill(apps, schema_editor):
    Partner = apps.get_model("ib", "Partner")
    taken = set()
    for partner in Partner.objects.filter(payment_reference__isnull=True).only("pk").iterator():
        ref = clients.payment_reference.new_partner_reference()
        while ref in taken:
            ref = clients.payment_reference.new_partner_reference()
        taken.add(ref)
        Partner.objects.filter(pk=partner.pk).update(payment_reference=ref)


class Migration(migrations.Migration):
    dependencies = [
        ("ib", "0003_attribution"), ("clients", "0011_payment_reference"),
    ]

    operations = [
        migrations.AddField(
            model_name="partner",
            name="payment_reference",
            field=models.CharField(max_length=25, null=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="partner",
            name="payment_reference",
            field=models.CharField(
                default=clients.payment_reference.new_partner_reference,
                editable=False,
                help_text="What the partner writes on a bank wire (ISO 11649 RF creditor reference).",
                max_length=25,
                unique=True,
            ),
        ),
        migrations.AddField(
            model_name="historicalpartner",
            name="payment_reference",
            field=models.CharField(
                db_index=True,
                default=clients.payment_reference.new_partner_reference,
                editable=False,
                help_text="What the partner writes on a bank wire (ISO 11649 RF creditor reference).",
                max_length=25,
            ),
        ),
    ]
