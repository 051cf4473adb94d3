"""Closing a commission period: freeze, state, settle — exactly once.

`period_close` (an IB manager, or the programme's schedule) for a programme and a window:
1. pays whatever the window's deals still owe (the engine is idempotent, so this only adds
   lines a lost task or a fixed plan left unpaid), the CPAs and clawbacks due, and the
   programme's revenue share of the window (`ib.client_rules`), and the rebates partners pass
   back to their clients (`ib.rebates`: negative lines, credited to the clients' wallets once
   the statements settle);
2. freezes every pending line of the programme whose deal closed before the window's end and
   no earlier period took (late lines of an earlier window included): they take the period and
   become settled. Withheld and disputed lines stay out until decided, and are taken by the
   first period closed after that;
3. writes each partner's statement per currency: the lines' exact sum, and the amount settled,
   that sum rounded **once, half up, to cents** (the documented rounding rule: lines keep
   8 places; only a partner's period total is rounded);
4. settles through the ledger: a positive amount is credited to the partner's wallet
   (`finance.services.commission_credit`, keyed by period, partner and currency; a wallet kept
   in another currency is credited each line converted at the rate of its date, through the
   FX conversion account: `ib.wallets`); a negative
   one (reversals over earnings) is carried forward as an adjustment line of the next period;
5. pays out automatically when the programme says so and the amount reaches its threshold:
   a bank wire to the partner's payout account, through the one withdrawal workflow (its
   checks, four eyes and KYC included); a refusal is noted on the statement, never forced.

The period's checksum is the one `commissions_recompute` prints, so a closed period can be
reproduced to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput
from brokerage.services import Actor, audit_record
from finance.services import commission_credit, withdrawal_request

from . import audit_events
from .client_rules import cpa_clawback, cpa_pay, revshare_pay
from .engine import CHECKSUM, commissions_pay
from .fx import to_cents
from .models import CommissionLine, CommissionPeriod, Partner, PartnerStatement, Programme
from .permissions import actor_label, require_manager
from .rebates import rebates_credit, rebates_pay
from .revisions import revisions_sweep
from .wallets import wallet_rates_apply

CENT = Decimal("0.01")
REVISIONS_HOURS = 72  # a revision whose task was lost is still reversed before a close

FREEZE_SQL = """
UPDATE ib_commissionline l SET period_id = %(period)s, status = 'settled'
 WHERE l.period_id IS NULL AND l.status = 'pending' AND l.deal_time < %(end)s
   AND l.version_id IN (SELECT v.id FROM ib_planversion v JOIN ib_plan p ON p.id = v.plan_id
                         WHERE p.programme_id = %(programme)s)
"""
# Per partner and line currency: the lines, their exact sum and, when every line has a rate
# into the partner's wallet currency (`ib.wallets`), that currency and the exact converted sum.
TOTALS_SQL = """
SELECT partner_id, currency, count(*), sum(amount),
       CASE WHEN bool_and(wallet_rate IS NOT NULL) THEN max(wallet_currency) ELSE '' END,
       sum(amount * wallet_rate)
  FROM ib_commissionline
 WHERE period_id = %s GROUP BY partner_id, currency ORDER BY partner_id, currency
"""


@transaction.atomic
def period_close(*, programme: Programme, start, end, actor: Actor) -> CommissionPeriod:
    """Close `programme`'s period [start, end): freeze, state, settle (see the module)."""
    require_manager(actor)
    if end <= start:
        raise InvalidInput("A period ends after it starts.")
    if end > timezone.now():
        raise InvalidInput("A period can be closed once it has ended.")
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    if CommissionPeriod.objects.filter(programme=programme, start__lt=end, end__gt=start).exists():
        raise InvalidInput("This period overlaps one already closed.", code="period_closed")
    revisions_sweep(hours=REVISIONS_HOURS)  # deals corrected on the platform: reversed first
    commissions_pay(start=start, end=end)
    cpa_pay()
    cpa_clawback()
    revshare_pay(programme=programme, start=start, end=end)
    rebates_pay(programme=programme, start=start, end=end)
    period = CommissionPeriod.objects.create(
        programme=programme, start=start, end=end, closed_by=actor_label(actor)
    )
    with connection.cursor() as cur:
        cur.execute(FREEZE_SQL, {"period": period.pk, "end": end, "programme": programme.pk})
        period.lines = max(cur.rowcount, 0)
        cur.execute(CHECKSUM.format(table="ib_commissionline", where="period_id = %s"), [period.pk])
        period.checksum = cur.fetchone()[2]
        wallet_rates_apply(cur, period_id=period.pk)
        cur.execute(TOTALS_SQL, [period.pk])
        totals = cur.fetchall()
    period.save(update_fields=["lines", "checksum"])
    partners = Partner.objects.select_related("holder", "user").in_bulk({row[0] for row in totals})
    for partner_id, currency, count, exact, wallet, wallet_exact in totals:
        converted = (wallet, Decimal(wallet_exact)) if wallet else None
        _settle(period, partners[partner_id], currency, count, Decimal(exact), converted, actor)
    rebates_credit(period=period, actor=actor)
    audit_record(
        actor=actor,
        action=audit_events.PERIOD_CLOSED,
        target=period,
        evidence={
            "programme": programme.name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "lines": period.lines,
            "partners": len(totals),
            "checksum": period.checksum,
        },
    )
    return period


def _settle(period, partner, currency, count, exact, converted, actor) -> PartnerStatement:
    """`converted`: (the partner's wallet currency, the exact sum of the lines converted each
    at its rate) when its wallet is kept in another currency (`ib.wallets`), else None."""
    amount = exact.quantize(CENT, ROUND_HALF_UP)
    statement = PartnerStatement(
        period=period,
        partner=partner,
        currency=currency,
        lines=count,
        exact_amount=exact,
        amount=amount,
        outcome=PartnerStatement.Outcome.NOTHING,
    )
    paid = {}
    if converted is not None and amount > 0 and to_cents(converted[1]) > 0:
        statement.wallet_currency, statement.wallet_exact_amount = converted
        statement.wallet_amount = to_cents(converted[1])
        paid = {"paid_amount": statement.wallet_amount, "paid_currency": converted[0]}
    if amount > 0:
        txn = commission_credit(
            holder=partner.holder,
            amount=amount,
            currency=currency,
            key=f"ib-settle:{period.pk}:{partner.pk}:{currency}",
            actor=actor,
            description=f"IB commissions {period}",
            **paid,
        )
        statement.outcome, statement.transaction_id = PartnerStatement.Outcome.CREDITED, txn.pk
    elif exact < 0:
        statement.outcome = PartnerStatement.Outcome.CARRIED
        CommissionLine.objects.create(
            deal=None,
            deal_time=period.end,
            client=partner.holder,
            partner=partner,
            tier=0,
            kind=CommissionLine.Kind.ADJUSTMENT,
            version_id=CommissionLine.objects.filter(period=period, partner=partner)
            .exclude(version=None)
            .values_list("version", flat=True)
            .first(),
            rate=Decimal(0),
            formula=f"carried forward from {period}: {exact.normalize():f} {currency}",
            currency=currency,
            amount=exact,
        )
    statement.save()
    threshold = period.programme.auto_payout_threshold
    credited = statement.outcome == PartnerStatement.Outcome.CREDITED
    if credited and threshold is not None and amount >= threshold:
        _auto_payout(statement, partner)
    return statement


def _auto_payout(statement: PartnerStatement, partner: Partner) -> None:
    """Wire the settled amount to the partner's payout account through the withdrawal
    workflow; what it refuses is noted on the statement."""
    if not partner.payout_iban:
        statement.payout_note = "No payout account on file: the partner withdraws it."
    else:
        try:
            with transaction.atomic():
                w = withdrawal_request(
                    client=partner.holder,
                    amount=statement.wallet_amount or statement.amount,
                    currency=statement.wallet_currency or statement.currency,
                    psp="bank_wire",
                    iban=partner.payout_iban,
                    bic=partner.payout_bic,
                    actor="rule:ib_auto_payout",
                )
            statement.payout_reference = w.reference
            statement.payout_note = f"Automatic payout {w.get_status_display().lower()}."
        except (DomainError, InvalidInput) as exc:
            statement.payout_note = f"Automatic payout not made: {exc}"[:255]
    statement.save(update_fields=["payout_reference", "payout_note"])
