from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from brokerage.errors import DomainError
from compliance.models import CsvMapping, ListFormat
from compliance.services import snapshot_import

SYSTEM_ACTOR = "screening_import (command line)"


class Command(BaseCommand):
    help = (
        "Import a sanctions or PEP list file (or OFAC's four SDN files) as the list's new "
        "snapshot, all or nothing; prints the counts and what changed against the previous one."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--source", required=True, choices=[f.value for f in ListFormat])
        parser.add_argument("--mapping", help="A saved CSV mapping's name (--source csv).")
        parser.add_argument("--list", default="", help="The list's code (CSV lists).")
        parser.add_argument("--list-name", default="", help="The list's name, on first import.")

    def handle(self, *args, files, source, mapping, list, list_name, **options):
        column_mapping = None
        if source == ListFormat.CSV:
            if not mapping:
                raise CommandError("--source csv needs --mapping NAME (a saved CSV mapping).")
            saved = CsvMapping.objects.filter(name=mapping).first()
            if saved is None:
                raise CommandError(f"No saved CSV mapping named {mapping!r}.")
            column_mapping = saved.mapping
        contents = []
        for name in files:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file.")
            contents.append((path.name, path.read_bytes()))
        try:
            snapshot = snapshot_import(
                fmt=source,
                files=contents,
                actor=SYSTEM_ACTOR,
                list_code=list or (mapping or ""),
                list_name=list_name,
                mapping=column_mapping,
            )
        except DomainError as exc:
            raise CommandError(f"Nothing imported: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{snapshot.source.name}: snapshot #{snapshot.pk}, {snapshot.entry_count} entries,"
                f" {snapshot.name_count} names; {snapshot.added_count} added,"
                f" {snapshot.changed_count} changed, {snapshot.removed_count} removed."
            )
        )
