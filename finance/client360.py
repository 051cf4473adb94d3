"""Finance's part of the client 360: wallet balances, deposits, withdrawals and transfers
between the wallet and trading accounts, and the payment instruments the client paid with (and
the other clients seen with the same one). Seven queries, whatever the client's history."""

from decimal import Decimal

from django.db.models import Count, Q, Sum, Value
from django.urls import reverse

from brokerage.dashboard import Kpi
from brokerage.money import format_money
from brokerage.statements import Statement
from brokerage.status import status_tone
from clients.client360 import Contribution, Section, TimelineEntry
from clients.selectors import clients_visible_to

from .models import Deposit, Transfer, Withdrawal
from .selectors import payment_instrument_list, wallets_for_client

LIST_LIMIT = 10


def _totals(rows, key="total") -> dict[str, Decimal]:
    return {r["currency"]: r[key] or Decimal(0) for r in rows}


# The section's reads, each compiled once per process (brokerage.statements).
_DEPOSITS = Statement(
    lambda v: (
        Deposit.objects.filter(client_id=v.client_id)
        .select_related("method", "instrument")
        .order_by("-created_at")[:LIST_LIMIT]
    )
)
_WITHDRAWALS = Statement(
    lambda v: Withdrawal.objects.filter(client_id=v.client_id).order_by("-requested_at")[
        :LIST_LIMIT
    ]
)
_TRANSFERS = Statement(
    lambda v: (
        Transfer.objects.filter(client_id=v.client_id)
        .select_related("trading_account")
        .order_by("-requested_at")[:LIST_LIMIT]
    )
)


def _money_in_and_out(v):
    """Money in and out per currency, in one query: the completed deposits (what was paid in,
    what went back as refunds and chargebacks) and the withdrawals (paid, still open)."""
    deposited = (
        Deposit.objects.filter(client_id=v.client_id, status=Deposit.Status.COMPLETED)
        .values("currency")
        .annotate(
            side=Value("in"),
            total=Sum("amount"),
            other=Sum("refunded_amount") + Sum("charged_back_amount"),
            n=Count("id"),
        )
        .order_by()
    )
    withdrawn = (
        Withdrawal.objects.filter(client_id=v.client_id)
        .values("currency")
        .annotate(
            side=Value("out"),
            total=Sum("amount", filter=Q(status=Withdrawal.Status.PAID)),
            other=Sum("amount", filter=Q(status__in=Withdrawal.OPEN)),
            n=Count("id", filter=Q(status=Withdrawal.Status.PAID)),
        )
        .order_by()
    )
    return deposited.union(withdrawn, all=True)


_MONEY_IN_AND_OUT = Statement(_money_in_and_out)


def finance_360(client, user) -> Contribution:
    wallets = wallets_for_client(client)
    deposits = _DEPOSITS(client_id=client.pk)
    withdrawals = _WITHDRAWALS(client_id=client.pk)
    transfers = _TRANSFERS(client_id=client.pk)
    dep, wd = [], []
    for row in _MONEY_IN_AND_OUT(client_id=client.pk):
        (dep if row["side"] == "in" else wd).append(row)
    dep_total, wd_total = _totals(dep), _totals(wd)
    returned = _totals(dep, "other")
    pending = {c: v for c, v in _totals(wd, "other").items() if v}
    currencies = sorted(set(dep_total) | set(wd_total))
    totals = [
        {
            "currency": c,
            "deposited": dep_total.get(c, Decimal(0)),
            "returned": returned.get(c, Decimal(0)),
            "withdrawn": wd_total.get(c, Decimal(0)),
            "pending": pending.get(c, Decimal(0)),
            "net": dep_total.get(c, Decimal(0))
            - returned.get(c, Decimal(0))
            - wd_total.get(c, Decimal(0)),
        }
        for c in currencies
    ]
    see_finance = user.is_superuser or user.has_perm("finance.view_finance")

    def link(name, pk):
        return reverse(name, args=[pk]) if see_finance else ""

    timeline = []
    for d in deposits:
        timeline.append(
            TimelineEntry(
                d.completed_at or d.created_at,
                "deposit",
                "box-arrow-in-down",
                f"Deposit {d.get_status_display().lower()}" + (" (FTD)" if d.is_ftd else ""),
                f"{format_money(d.amount, d.currency)} via {d.method.name}"
                + (f": {d.failure_reason}" if d.failure_reason else ""),
                url=link("finance:deposit", d.pk),
                tone=status_tone(d.status),
                same=(f"finance.deposit:{d.pk}", *(("ftd",) if d.is_ftd else ())),
            )
        )
    for w in withdrawals:
        timeline.append(
            TimelineEntry(
                w.completed_at or w.requested_at,
                "withdrawal",
                "box-arrow-up",
                f"Withdrawal: {w.get_status_display().lower()}",
                format_money(w.amount, w.currency)
                + (f": {w.failure_reason}" if w.failure_reason else ""),
                url=link("finance:withdrawal", w.pk),
                tone=status_tone(w.status),
                same=(f"finance.withdrawal:{w.pk}",),
            )
        )
    for t in transfers:
        timeline.append(
            TimelineEntry(
                t.completed_at or t.requested_at,
                "transfer",
                "arrow-left-right",
                f"Transfer {t.get_direction_display().lower()}",
                f"{format_money(t.amount, t.currency)}, account {t.trading_account.login} "
                f"({t.get_status_display().lower()})",
                same=(f"finance.transfer:{t.pk}",),
            )
        )
    instruments = payment_instrument_list(client)
    linked = sum(1 for i in instruments if i.shared_with)
    # Who else used an instrument is named only to a viewer who may open that client.
    others = {c.pk for i in instruments for c in i.shared_with}
    visible = set(clients_visible_to(user).filter(pk__in=others).values_list("pk", flat=True))
    for i in instruments:
        for c in i.shared_with:
            c.visible_to_viewer = c.pk in visible
    wallet_text = " · ".join(format_money(w.available_amount, w.currency) for w in wallets)
    net_text = " · ".join(format_money(t["net"], t["currency"]) for t in totals)
    return Contribution(
        sections=[
            Section(
                "wallet",
                "Wallet",
                "finance/_360_wallet.html",
                {"wallets": wallets, "totals": totals},
                order=15,
                icon="wallet2",
            ),
            Section(
                "payments",
                "Deposits, withdrawals and transfers",
                "finance/_360_payments.html",
                {
                    "deposits": deposits,
                    "withdrawals": withdrawals,
                    "transfers": transfers,
                    "limit": LIST_LIMIT,
                    "see_finance": see_finance,
                },
                order=30,
                icon="cash-stack",
                badge=f"{len(pending)} pending withdrawal(s)" if pending else "",
            ),
            Section(
                "instruments",
                "Payment instruments",
                "finance/_360_instruments.html",
                {"instruments": instruments},
                order=32,
                icon="credit-card",
                badge=f"{linked} shared with other clients" if linked else "",
            ),
        ],
        kpis=[
            Kpi("Wallet available", wallet_text or "—", "wallet2", order=10),
            Kpi(
                "Net deposits",
                net_text or "—",
                "piggy-bank",
                hint="less refunds, chargebacks, withdrawals",
                order=15,
            ),
        ],
        timeline=timeline,
    )
