import json

from django.core.management.base import BaseCommand, CommandError

from brokerage.rollups import rollups, rollups_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the leadership rollups from the raw records (all of them, or those named), "
        "and print the seconds each took as one JSON line."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Rollups to rebuild (default: all).")

    def handle(self, *args, **options):
        known = {r.name for r in rollups()}
        unknown = sorted(set(options["names"]) - known)
        if unknown:
            raise CommandError(f"No rollup named {', '.join(unknown)}; known: {sorted(known)}.")
        taken = rollups_rebuild(options["names"] or None)
        self.stdout.write(json.dumps({"seconds": taken, "total": round(sum(taken.values()), 3)}))
