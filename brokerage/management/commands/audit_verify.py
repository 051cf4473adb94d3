import json
import zipfile

from django.core.management.base import BaseCommand, CommandError

from brokerage.audit import audit_chain_verify, audit_proof_check, audit_seal_all


class Command(BaseCommand):
    help = (
        "Seal what is committed and not sealed yet, then verify the audit log's hash chain. "
        "Exits 1 naming the first broken row."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-seal", action="store_true", help="Verify only what is sealed; write nothing."
        )
        parser.add_argument(
            "--dossier",
            metavar="ZIP",
            help="Check a client dossier's audit proof: each event against its hash, and each "
            "seal against this database's chain.",
        )

    def handle(self, *args, **options):
        if options["dossier"]:
            return self._dossier(options["dossier"])
        if not options["no_seal"]:
            audit_seal_all()
        result = audit_chain_verify()
        if not result.ok:
            where = f" at seq {result.broken_seq}" if result.broken_seq is not None else ""
            raise CommandError(
                f"Audit chain BROKEN{where}"
                + (f" (event {result.broken_id})" if result.broken_id else "")
                + f": {result.problem}. {result.checked} rows before it verified."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} events."))
        if result.unsealed:
            self.stdout.write(
                self.style.WARNING(
                    f"{result.unsealed} committed event(s) not sealed yet, the oldest written "
                    f"at {result.oldest_unsealed_at:%Y-%m-%d %H:%M:%S} UTC."
                )
            )

    def _dossier(self, path: str) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                proof = json.loads(archive.read("audit/proof.json"))
        except (OSError, KeyError, zipfile.BadZipFile, ValueError) as exc:
            raise CommandError(f"{path} is not a dossier with an audit proof: {exc}") from exc
        problems = audit_proof_check(proof)
        if problems:
            raise CommandError("Dossier proof BROKEN: " + "; ".join(problems[:20]))
        self.stdout.write(
            self.style.SUCCESS(
                f"Dossier proof intact: {len(proof['events'])} events of client "
                f"{proof['client_id']} match their seals in this chain (head seq "
                f"{proof['head']['seq']} at export)."
            )
        )
