from django.core.management.base import BaseCommand, CommandError

from clients.models import Client
from compliance.dossier import dossier_write_file


class Command(BaseCommand):
    help = (
        "Write one client's compliance dossier (PDF, JSON, documents, the audit trail with its "
        "hash-chain proof) as a ZIP; the export is audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("client_id", type=int, help="The client's number.")
        parser.add_argument("--out", required=True, help="Where to write the ZIP.")

    def handle(self, *args, client_id, out, **options):
        if not Client.objects.filter(pk=client_id).exists():
            raise CommandError(f"No client {client_id}.")
        try:
            built = dossier_write_file(client_id=client_id, path=out, actor="system:client_dossier")
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc.strerror or exc}") from exc
        counts = built.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Dossier of client {client_id} written to {out}: {built.size} bytes, SHA-256 "
                f"{built.sha256}; {counts.get('audit_events', 0)} audit events, "
                f"{counts.get('deals', 0)} deals, {counts.get('documents', 0)} documents."
            )
        )
