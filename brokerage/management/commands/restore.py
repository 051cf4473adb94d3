from pathlib import Path

from django.core.management.base import BaseCommand

from brokerage.backup import backup_restore, command_errors


class Command(BaseCommand):
    help = (
        "Restore a backup (manage.py backup) into this settings' database, which must be new "
        "and empty, and the documents storage, which must not hold the backup's files; then "
        "check every table's row count and every document's SHA-256 against the manifest. Run "
        "ledger_verify and audit_verify afterwards (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="The backup's folder.")
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="pg_restore jobs in parallel (default 1: one transaction, all or nothing).",
        )

    def handle(self, *args, folder, jobs, **options):
        with command_errors():
            restored = backup_restore(folder=Path(folder), jobs=jobs)
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {restored.tables} tables ({restored.rows} rows) and "
                f"{restored.documents} documents from {folder}; counts and checksums match "
                "the manifest."
            )
        )
