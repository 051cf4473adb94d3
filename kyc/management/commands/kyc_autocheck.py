"""Run the automatic KYC checks on files outside any submission.

    manage.py kyc_autocheck passport.jpg bill.pdf --first-name Olivia --last-name Harris \
        --dob 1988-03-14 --nationality GBR [--address "14 Harbour Street"] [--postcode "BS1 4DJ"]
        [--json]

The first file is taken as the identity document (passport or ID card), the others as proof
of address. Every file passes the same upload checks as in the portal first.
"""

import json
import time
from datetime import date
from pathlib import Path

import pycountry
from django.core.management.base import BaseCommand, CommandError

from brokerage.errors import InvalidInput
from brokerage.uploads import check_upload
from kyc import pipeline


class _File:
    def __init__(self, path: Path):
        self.name, self.size, self._path = path.name, path.stat().st_size, path

    def read(self, n=-1):
        with self._path.open("rb") as fh:
            return fh.read(n)


class Command(BaseCommand):
    help = "Run the KYC auto-check pipeline on files and print the decision and each check."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--dob", required=True, help="YYYY-MM-DD")
        parser.add_argument("--nationality", required=True, help="ISO 3166 alpha-3 or alpha-2")
        parser.add_argument("--address", default="")
        parser.add_argument("--postcode", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            born = date.fromisoformat(opts["dob"])
        except ValueError as exc:
            raise CommandError("--dob must be YYYY-MM-DD") from exc
        code = opts["nationality"].upper()
        country = (
            pycountry.countries.get(alpha_3=code)
            if len(code) == 3
            else pycountry.countries.get(alpha_2=code)
        )
        if country is None:
            raise CommandError(f"Unknown nationality {code!r}")
        docs = []
        for i, name in enumerate(opts["files"]):
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"No such file: {name}")
            try:
                checked = check_upload(_File(path))
            except InvalidInput as exc:
                raise CommandError(f"{name}: {exc.message}") from exc
            kind = "passport" if i == 0 else "proof_of_address"
            docs.append(pipeline.Doc(kind, checked.data, checked.content_type, checked.sha256))
        case = pipeline.Case(
            first_name=opts["first_name"],
            last_name=opts["last_name"],
            date_of_birth=born,
            nationality=country.alpha_2,
            address_line=opts["address"],
            postcode=opts["postcode"],
            documents=docs,
        )
        started = time.perf_counter()
        results = pipeline.run(case)
        seconds = time.perf_counter() - started
        approved, flags = pipeline.decide(results)
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "decision": "approve" if approved else "review",
                        "flags": flags,
                        "seconds": round(seconds, 3),
                        "checks": [
                            {
                                "name": r.name,
                                "passed": r.passed,
                                "flag": r.flag,
                                "explanation": r.explanation,
                                "compared": r.compared,
                            }
                            for r in results
                        ],
                    },
                    default=str,
                )
            )
            return
        self.stdout.write(
            ("APPROVE" if approved else "REVIEW: " + ", ".join(flags)) + f"  ({seconds:.2f} s)"
        )
        for r in results:
            mark = "pass" if r.passed else f"FAIL {r.flag}"
            self.stdout.write(f"  {r.name:<20} {mark:<28} {r.explanation}")
