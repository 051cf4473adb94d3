"""Rebates (see `ib.models_rebates`): set by a partner for its own clients, paid when a period
closes.

- `rebate_set`: the partner (or an IB manager) gives a percent for one of its own clients, or
  for all of them; from now on (earlier periods stay as they were paid). Audited.
- `rebates_pay` (in `period_close`, before the lines are frozen): for each partner with a
  rebate in force at the period's end and each of its own clients (level 0) on whom it earned
  a positive amount in the lines the period takes, a `rebate` line of minus that percent of it,
  with the why ("25% of 120 USD earned on this client passed back to the client"). The period
  key makes a rerun write nothing twice.
- `rebates_credit` (after the partners' statements settle): each rebate line of the period is
  credited to the client's wallet (rounded once, half up, to cents; keyed by the line, so once)
  from the commissions payable, and the client is emailed. A client whose wallet is kept in
  another currency than the line's (`finance.selectors.wallet_currency`: its first deposit's)
  is credited in that currency: the rate at the period's end is stored on the line with the
  currency (`ib.fx`, the one conversion rule), the partner's statement still nets the rebate in
  the line's currency.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.money import format_money
from brokerage.services import Actor, audit_record
from clients.models import Client
from clients.notify import client_notify
from finance.selectors import usd_rates_at, wallet_currency
from finance.services import commission_credit

from . import audit_events
from .client_rules import lines_insert
from .fx import converted_cents, fx_rate, to_cents
from .models import CommissionLine, CommissionPeriod, Partner, Rebate, ReferralLink
from .permissions import actor_label, require_manager
from .world import HUNDRED, n

CENT = Decimal("0.01")

# What each partner earned on each of its own clients in the lines a period will take (those
# the freeze takes: pending, not in a period, closed before the end, under the programme).
EARNED = """
SELECT l.partner_id, l.client_id, l.currency, sum(l.amount), count(*), max(l.version_id)
  FROM ib_commissionline l
 WHERE l.tier = 0 AND {taken}
   AND l.kind IN ('commission', 'reversal', 'cpa', 'clawback', 'revshare')
   AND l.partner_id IN (SELECT partner_id FROM ib_rebate WHERE valid_from < %(end)s)
   AND l.version_id IN (SELECT v.id FROM ib_planversion v JOIN ib_plan p ON p.id = v.plan_id
                         WHERE p.programme_id = %(programme)s)
 GROUP BY l.partner_id, l.client_id, l.currency
"""


def _percent(value) -> Decimal:
    try:
        percent = Decimal(str(value).strip().rstrip("%").strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(
            "Give the rebate as a percent, e.g. 25.", fields={"percent": ["A number."]}
        ) from None
    if not percent.is_finite() or percent < 0 or percent > 100:
        raise InvalidInput(
            "A rebate is from 0 to 100 percent.", fields={"percent": ["From 0 to 100."]}
        )
    if percent != percent.quantize(CENT):
        raise InvalidInput("At most 2 decimal places.", fields={"percent": ["2 decimals."]})
    return percent


def own_client(partner: Partner, client_id: int) -> Client | None:
    """The client if it is `partner`'s own now (its IB, level 0), else None."""
    link = ReferralLink.objects.filter(client_id=client_id).order_by("-valid_from").first()
    if link is None or link.partner_id != partner.pk:
        return None
    return Client.objects.select_related("user").get(pk=client_id)


@transaction.atomic
def rebate_set(*, partner: Partner, percent, actor: Actor, client: Client | None = None) -> Rebate:
    """Pass `percent` of what `partner` earns on `client` (None: on each of its clients without
    a rebate of its own) back to the client, from now on."""
    if isinstance(actor, str) or getattr(actor, "partner", None) != partner:
        require_manager(actor)
    percent = _percent(percent)
    if client is not None and own_client(partner, client.pk) is None:
        raise NotAllowed("A rebate is set for the partner's own clients only.")
    rebate = Rebate.objects.create(
        partner=partner,
        client=client,
        percent=percent,
        valid_from=timezone.now(),
        set_by=actor_label(actor),
        set_by_user=None if isinstance(actor, str) else actor,
    )
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_REBATE_SET,
        target=partner,
        evidence={"client": client.pk if client else None, "percent": str(percent)},
    )
    return rebate


def rebates_in_force(partner_ids, at) -> dict[tuple[int, int | None], Decimal]:
    """(partner, client or None) -> the percent in force at `at`."""
    found: dict[tuple[int, int | None], Decimal] = {}
    rows = Rebate.objects.filter(partner_id__in=partner_ids, valid_from__lt=at).order_by(
        "valid_from", "id"
    )
    for row in rows:
        found[(row.partner_id, row.client_id)] = row.percent
    return found


# The lines a period will take (at its close), or took (once closed: a recompute).
WILL_TAKE = "l.status = 'pending' AND l.period_id IS NULL AND l.deal_time < %(end)s"
TOOK = "l.period_id = %(period)s"


def rebates_pay(*, programme, start, end) -> int:
    """Write the rebate lines of `programme`'s period [start, end) (see the module)."""
    return lines_insert(rebate_lines(programme=programme, start=start, end=end))


def rebate_lines(*, programme, start, end, period=None) -> list[CommissionLine]:
    """The rebate lines of `programme`'s period [start, end), unsaved: on the lines it will
    take, or (`period`, closed) on those it took."""
    taken = TOOK if period is not None else WILL_TAKE
    with connection.cursor() as cur:
        cur.execute(
            EARNED.format(taken=taken),
            {"end": end, "programme": programme.pk, "period": getattr(period, "pk", None)},
        )
        earned = cur.fetchall()
    if not earned:
        return []
    rates = rebates_in_force({row[0] for row in earned}, end)
    window = f"{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}"
    usd = usd_rates_at(end)  # the rates at the period's end convert its rebates
    wallets = {client_id: wallet_currency(client_id) for _, client_id, *_ in earned}
    lines = []
    for partner_id, client_id, currency, amount, count, version_id in earned:
        percent = rates.get((partner_id, client_id), rates.get((partner_id, None)))
        amount = Decimal(amount)
        if not percent or amount <= 0:
            continue
        rebate = round(amount * percent / HUNDRED, 8)
        formula = (
            f"{n(percent)}% of {n(round(amount, 2))} {currency} earned on this client "
            f"({count} lines) passed back to the client"
        )
        wallet = wallets.get(client_id) or currency
        rate = fx_rate(currency, wallet, rates=usd)
        if wallet != currency and rate is None:
            wallet, rate = currency, Decimal(1)  # no rate: paid in the line's currency
            formula += f" (no {wallets[client_id]} rate: paid in {currency})"
        elif wallet != currency:
            formula += (
                f", paid into the client's {wallet} wallet at {n(rate)} {wallet} per "
                f"{currency}: {n(converted_cents(rebate, rate))} {wallet}"
            )
        lines.append(
            CommissionLine(
                deal_time=end - timedelta(microseconds=1),
                client_id=client_id,
                partner_id=partner_id,
                tier=0,
                kind=CommissionLine.Kind.REBATE,
                version_id=version_id,
                rate=percent,
                base_amount=amount,
                formula=formula[:255],
                currency=currency,
                fx_rate=rate,
                paid_currency="" if wallet == currency else wallet,
                amount=-rebate,
                event_key=f"rb:{programme.pk}:{window}:{partner_id}:{client_id}",
            )
        )
    return lines


def rebates_credit(*, period: CommissionPeriod, actor: Actor) -> int:
    """Credit each rebate line of the closed `period` to its client's wallet and tell the
    client (each once). Returns how many were credited."""
    credited = 0
    lines = CommissionLine.objects.filter(period=period, kind=CommissionLine.Kind.REBATE)
    for line in lines.select_related("client__user", "partner"):
        amount = to_cents(-line.amount)
        if amount <= 0:
            continue
        key = f"ib-rebate:{line.pk}"
        paid, paid_currency = amount, line.currency
        if line.paid_currency and line.paid_currency != line.currency:  # see ib.fx
            paid, paid_currency = converted_cents(-line.amount, line.fx_rate), line.paid_currency
            if paid <= 0:
                continue
        commission_credit(
            holder=line.client,
            amount=amount,
            currency=line.currency,
            key=key,
            actor=actor,
            description=f"Commission rebate {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}",
            paid_amount=paid,
            paid_currency=paid_currency,
        )
        client_notify(
            line.client,
            email="commission_rebate",
            key=key,
            actor=actor,
            url_name="wallet:home",
            context={
                "amount": format_money(paid, paid_currency),
                "start": period.start.date(),
                "end": (period.end - timedelta(microseconds=1)).date(),
            },
        )
        credited += 1
    return credited
