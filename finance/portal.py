"""The client's wallets on the portal overview (hook `portal.overview`)."""

from django.urls import reverse

from brokerage.money import format_money
from brokerage.portal import NextStep, OverviewPart, Tile

from .selectors import wallets_for_client


def wallet_overview(client) -> OverviewPart:
    wallets = wallets_for_client(client)

    def money(amount, currency):  # one unbreakable piece of text
        return format_money(amount, currency).replace(" ", "\u00a0")

    lines = [
        (
            w.currency,
            money(w.balance_amount, w.currency)
            + (f" ({money(w.available_amount, w.currency)} available)" if w.held_amount else ""),
        )
        for w in wallets
    ]
    tile = Tile(
        "wallet",
        "Wallet",
        "wallet2",
        lines=lines,
        url=reverse("wallet:home"),
        link_text="Open wallet",
        order=10,
        empty="No funds yet.",
    )
    steps = []
    if client.first_deposit_at is None:
        steps.append(
            NextStep(
                20,
                "Fund your wallet",
                "Deposit by card, e-wallet, crypto or bank wire; funds reach your wallet as "
                "soon as the payment is confirmed.",
                reverse("wallet:deposit"),
                "Deposit",
                "box-arrow-in-down",
            )
        )
    return OverviewPart(tiles=[tile], steps=steps)
