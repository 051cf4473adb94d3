"""Clients who sent their KYC before the client record kept a nationality (clients 0021) get the
one their latest sent submission declared, so the country rules on nationals, the risk rating
and screening reach them as they reach clients verified since. A nationality the record already
has is left alone; each change is kept in the client's history (not the audit log, which
starts with the installation's first decision), and the jurisdiction rules' beat applies what
it now reaches. Running it again changes nothing."""

from django.db import migrations
from django.utils import timezone

REASON = "nationality declared in KYC (backfilled)"


def forwards(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    HistoricalClient = apps.get_model("clients", "HistoricalClient")
    Submission = apps.get_model("kyc", "KycSubmission")
    latest = (
        Submission.objects.filter(
            submitted_at__isnull=False, client__nationality="", nationality__regex=r"^[A-Z]{2}$"
        )
        .order_by("client_id", "-submitted_at", "-id")
        .distinct("client_id")
        .values_list("client_id", "nationality")
    )
    by_nationality: dict[str, list[int]] = {}
    for client_id, nationality in latest:
        by_nationality.setdefault(nationality, []).append(client_id)
    now = timezone.now()
    fields = [f.attname for f in Client._meta.concrete_fields]
    for nationality, ids in sorted(by_nationality.items()):
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            Client.objects.filter(pk__in=batch, nationality="").update(nationality=nationality)
            HistoricalClient.objects.bulk_create(
                HistoricalClient(
                    **{name: getattr(client, name) for name in fields},
                    history_date=now,
                    history_type="~",
                    history_change_reason=REASON,
                )
                for client in Client.objects.filter(pk__in=batch)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("kyc", "0002_financial_profile_source_of_funds"),
        ("clients", "0027_instrument_subclass"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
