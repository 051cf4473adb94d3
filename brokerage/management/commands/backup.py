from pathlib import Path

from django.core.management.base import BaseCommand

from brokerage.backup import backup_check, backup_create, command_errors


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, custom format) and the private documents storage into a "
        "new folder, with a manifest of checksums and row counts (docs/operations.md). "
        "--check verifies an existing backup's files against its manifest instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="Where to write the backup (must not exist yet).")
        parser.add_argument(
            "--check", action="store_true", help="Only verify an existing backup's checksums."
        )

    def handle(self, *args, folder, check, **options):
        with command_errors():
            manifest = backup_check(Path(folder)) if check else backup_create(out=Path(folder))
        rows = sum(manifest["tables"].values())
        size = sum(f["bytes"] for f in manifest["files"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Backup intact' if check else 'Backed up'}: {manifest['database']} at "
                f"{manifest['created_at']}, {len(manifest['tables'])} tables, {rows} rows, "
                f"{len(manifest['documents'])} documents, {size} bytes in {folder}."
            )
        )
