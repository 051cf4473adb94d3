from django.core.management.base import BaseCommand, CommandError

from brokerage.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain. Exits 1 naming the first broken row."

    def handle(self, *args, **options):
        result = audit_chain_verify()
        if not result.ok:
            raise CommandError(
                f"Audit chain BROKEN at seq {result.broken_seq}"
                + (f" (id {result.broken_id})" if result.broken_id else "")
                + f": {result.problem}. {result.checked} rows before it verified."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {result.checked} events."))
