from django.core.management.base import BaseCommand, CommandError

from finance.ledger import ledger_verify


class Command(BaseCommand):
    help = (
        "Prove every ledger balance equals the sum of its postings and every transaction sums "
        "to zero. Exits 1 naming the first discrepancy."
    )

    def handle(self, *args, **options):
        counts, problem = ledger_verify()
        if problem:
            raise CommandError(f"Ledger DISCREPANCY: {problem}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Ledger consistent: {counts['accounts']} accounts, "
                f"{counts['transactions']} transactions, {counts['postings']} postings."
            )
        )
