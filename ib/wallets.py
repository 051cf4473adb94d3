"""The currency of a partner's commissions wallet, and settling lines into it.

- A partner chooses the currency its wallet is kept in when it signs up, or an IB manager sets
  it (`partner_wallet_currency_set`, with a reason, audited); empty: the programme's currency.
  A currency can be chosen when the brokerage keeps a rate for it (`wallet_currency_choices`).
  The partner is emailed a change, with its reason, in its language and on its communication
  history (`clients.notify.client_notify`). A change applies to the periods closed after it;
  money already credited stays in the wallet it was credited to.
- When a period closes, each line it takes whose partner keeps its wallet in another currency
  is given that currency and the rate from the line's currency into it **at the line's own
  date** (`wallet_rates_apply`, the one FX rule of `ib.fx`: 6 places, half up). The line keeps
  its currency, amount and why; the statement adds, beside its exact sum and the amount settled
  in the line's currency, the exact sum of each line converted at its rate and the amount
  credited, that sum rounded **once, half up, to cents**. The ledger debits the commissions
  payable in the line's currency and credits the wallet in its own through the broker's FX
  conversion account in each (`finance.services.commission_credit`): each currency's postings
  sum to zero.
- Without a rate for the wallet's currency the lines settle in their own currency, as before.
"""

from __future__ import annotations

from django.db import transaction

from brokerage.errors import InvalidInput
from brokerage.services import Actor, audit_record
from clients.notify import client_notify
from finance.selectors import usd_rates_at

from . import audit_events
from .fx import fx_rate, usd_rate_segments
from .models import Partner
from .permissions import require_manager
from .world import FAR_FUTURE, FAR_PAST


def wallet_currency_choices() -> list[str]:
    """The currencies a partner's wallet may be kept in: those the brokerage keeps a rate for."""
    return sorted(usd_rates_at())


def wallet_currency_check(currency: str) -> str:
    currency = (currency or "").strip().upper()
    if currency and currency not in wallet_currency_choices():
        raise InvalidInput(
            f"{currency} is not a currency we keep a rate for.",
            fields={"currency": ["Choose one of the currencies listed."]},
            code="currency_unknown",
        )
    return currency


@transaction.atomic
def partner_wallet_currency_set(
    *, partner: Partner, currency: str, actor: Actor, reason: str
) -> Partner:
    """Keep `partner`'s commissions wallet in `currency` ("": the programme's) from the next
    period closed. IB managers only; audited with the currency before and after."""
    require_manager(actor)
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise InvalidInput("Give the reason for the change.", fields={"reason": ["Required."]})
    currency = wallet_currency_check(currency)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = partner.wallet_currency
    if before == currency:
        raise InvalidInput(
            "The wallet is kept in this currency already.",
            fields={"currency": ["Unchanged."]},
            code="unchanged",
        )
    partner.wallet_currency = currency
    partner.save(update_fields=["wallet_currency"])
    event = audit_record(
        actor=actor,
        action=audit_events.PARTNER_WALLET_CURRENCY_SET,
        target=partner,
        subject=partner.holder,
        reason=reason,
        evidence={"from": before or "programme's", "to": currency or "programme's"},
    )
    if partner.holder is not None:  # the partner is told, in its language, with the reason
        client_notify(
            partner.holder,
            email="partner_wallet_currency_changed",
            key=f"ib.wallet_currency:{partner.pk}:{event.pk}",
            actor=actor,
            url_name="partners:statements",
            context={
                "currency": currency,
                "before": before,
                "reason": reason,
                "partner_area": True,
            },
            data={"partner": partner.pk, "from": before, "to": currency},
        )
    return partner


WALLET_FX_TABLE = """
CREATE TEMP TABLE ib_walletfx (
    partner_id bigint, currency text, t_from timestamptz, t_to timestamptz, wallet text,
    rate numeric
) ON COMMIT DROP
"""
WALLET_FX_APPLY = """
UPDATE ib_commissionline l SET wallet_currency = f.wallet, wallet_rate = f.rate
  FROM ib_walletfx f
 WHERE l.period_id = %s AND l.partner_id = f.partner_id AND l.currency = f.currency
   AND l.deal_time >= f.t_from AND l.deal_time < f.t_to
"""
PERIOD_CURRENCIES = """
SELECT partner_id, currency, min(deal_time), max(deal_time) FROM ib_commissionline
 WHERE period_id = %s AND partner_id = ANY(%s) GROUP BY partner_id, currency
"""


def wallet_rates_apply(cur, *, period_id: int) -> int:
    """Give each line of the period whose partner keeps its wallet in another currency that
    currency and the rate into it at the line's date (see the module). Returns how many."""
    wallets = dict(Partner.objects.exclude(wallet_currency="").values_list("pk", "wallet_currency"))
    if not wallets:
        return 0
    cur.execute(PERIOD_CURRENCIES, [period_id, list(wallets)])
    groups = [row for row in cur.fetchall() if row[1] != wallets[row[0]]]
    if not groups:
        return 0
    low, high = min(row[2] for row in groups), max(row[3] for row in groups)
    segments = usd_rate_segments(low, high, FAR_PAST, FAR_FUTURE)
    rows = []
    for partner_id, currency, *_ in groups:
        wallet = wallets[partner_id]
        for t_from, t_to, rates in segments:
            rate = fx_rate(currency, wallet, rates=rates)
            if rate is not None:
                rows.append((partner_id, currency, t_from, t_to, wallet, rate))
    cur.execute("DROP TABLE IF EXISTS ib_walletfx")
    cur.execute(WALLET_FX_TABLE)
    with cur.cursor.copy("COPY ib_walletfx FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(WALLET_FX_APPLY, [period_id])
    converted = max(cur.rowcount, 0)
    cur.execute("DROP TABLE ib_walletfx")
    return converted
