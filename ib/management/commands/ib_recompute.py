"""Recompute a month's IB commission lines without writing anything, and compare.

    manage.py ib_recompute --period 2026-11 [--partner REFERRALCODE] [--limit 50]

From the deals, the tree and the referrals as they stood, and the plan versions in force, the
lines of the deals closed that month (UTC) are computed again and compared with the stored
ones: counts, totals, a checksum of (deal, partner, tier, amount) in order, and the first
differences; then the lines paid per client dated that month (CPAs, clawbacks, and the revenue
share and rebates of the periods closed in it), by (event, partner, tier, kind, amount). Exit
status 1 when either differs.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from ib.engine import commissions_recompute
from ib.models import Partner
from ib.recompute import client_lines_recompute


def month(text: str) -> tuple[datetime, datetime]:
    try:
        first = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--period {text!r}: a month like 2026-11.") from None
    after = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return first, after


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--partner", help="a partner's referral code (default: all)")
        parser.add_argument("--limit", type=int, default=50, help="differences listed at most")

    def handle(self, *args, **options):
        start, end = month(options["period"])
        partner_id = None
        if options["partner"]:
            partner = Partner.objects.filter(referral_code=options["partner"].upper()).first()
            if partner is None:
                raise CommandError(f"No partner with the referral code {options['partner']!r}.")
            partner_id = partner.pk
        result = commissions_recompute(
            start=start, end=end, partner_id=partner_id, limit=options["limit"]
        )
        out = self.stdout.write
        clients = client_lines_recompute(
            start=start, end=end, partner_id=partner_id, limit=options["limit"]
        )
        out(f"period {options['period']} ({start:%Y-%m-%d} to {end:%Y-%m-%d}, UTC)")
        same = True
        for title, found in (("deal lines", result), ("per-client lines", clients)):
            out(f"{title} (CPA, clawbacks, revenue share, rebates)" if found is clients else title)
            out(
                f"  recomputed  {found.lines} lines  total {found.total}  checksum {found.checksum}"
            )
            out(
                f"  stored      {found.stored_lines} lines  total {found.stored_total}  "
                f"checksum {found.stored_checksum}"
            )
            if not found.same:
                same = False
                out(self.style.WARNING("  different:"))
                for side, key, partner, tier, *rest in found.differences:
                    what = f"deal {key}" if found is result else f"{rest[0]} {key}"
                    out(f"    {side:16} {what} partner {partner} tier {tier} amount {rest[-1]}")
        if same:
            out(self.style.SUCCESS("same: the stored lines reproduce to the cent"))
            return
        raise SystemExit(1)
