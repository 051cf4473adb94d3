"""Money moved: what finance tells the apps above when a deposit completes, a withdrawal is
requested, a transfer completes, a refund is requested or a chargeback opens (the kernel's
`money.moved` hook; compliance's AML monitoring evaluates it). Called in the row's
transaction; finance never imports the apps that answer."""

from brokerage.hooks import MONEY_MOVED, contributions


def money_moved(kind: str, pk: int) -> list[dict]:
    """The review reasons the apps above give (a withdrawal's; [] for the other kinds)."""
    reasons: list[dict] = []
    for fn in contributions(MONEY_MOVED):
        reasons += fn(kind, pk) or []
    return reasons
