import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from compliance.matching import Query
from compliance.screening import screen


def parse_query(data: dict, where: str) -> Query:
    if not isinstance(data, dict) or not str(data.get("name") or "").strip():
        raise CommandError(f"{where}: a JSON object with a name is needed.")
    dob = None
    if data.get("dob"):
        try:
            dob = date.fromisoformat(str(data["dob"]))
        except ValueError:
            raise CommandError(f"{where}: dob {data['dob']!r} is not YYYY-MM-DD.") from None
    nationality = str(data.get("nationality") or "").strip().upper()
    if nationality and len(nationality) != 2:
        raise CommandError(f"{where}: nationality {nationality!r} is not an ISO country code.")
    kind = str(data.get("kind") or "person")
    if kind not in ("person", "entity", "any"):
        raise CommandError(f"{where}: kind {kind!r} is not person, entity or any.")
    return Query(
        name=str(data["name"]),
        dob=dob,
        nationality=nationality,
        gender=str(data.get("gender") or "").lower(),
        kind=kind,
    )


class Command(BaseCommand):
    help = (
        "Screen a name (or a file of JSON lines, --batch) against the current list snapshots "
        'and print the hits: {"hits": [{"list", "entry_id", "matched_name", "score", '
        '"breakdown"}]}, one object per name in order.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--name")
        parser.add_argument("--dob", help="YYYY-MM-DD")
        parser.add_argument("--nationality", help="ISO 3166 alpha-2 code")
        parser.add_argument("--gender", choices=["male", "female"])
        parser.add_argument("--kind", default="person", choices=["person", "entity", "any"])
        parser.add_argument("--batch", help='A file of JSON lines: {"name", "dob", "nationality"}')
        parser.add_argument("--list", action="append", help="Only this list (repeatable).")
        parser.add_argument("--json", action="store_true", help="Print JSON (the default).")

    def handle(self, *args, **options):
        if bool(options["name"]) == bool(options["batch"]):
            raise CommandError("Give either --name or --batch FILE.")
        if options["name"]:
            queries = [
                parse_query(
                    {k: options[k] for k in ("name", "dob", "nationality", "gender", "kind")},
                    "--name",
                )
            ]
        else:
            queries = []
            try:
                with open(options["batch"], encoding="utf-8") as f:
                    for number, line in enumerate(f, start=1):
                        if not line.strip():
                            continue
                        try:
                            data = json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise CommandError(f"line {number}: not JSON ({exc.msg}).") from None
                        queries.append(parse_query(data, f"line {number}"))
            except OSError as exc:
                raise CommandError(f"{options['batch']}: {exc.strerror}.") from None
        for hits in screen(queries, lists=options["list"]):
            self.stdout.write(json.dumps({"hits": [h.as_json() for h in hits]}))
