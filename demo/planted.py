"""Where the demo book's planted AML cases are: `planted_cases()` -> {typology code: [client
ids]}, for the tests and `bench/aml.py`. Every typology is a key, with an empty list when the
book planted none of it (a book seeded before the monitoring existed)."""

from __future__ import annotations

TYPOLOGIES = (
    "quick_in_out",
    "structuring",
    "velocity",
    "third_party_funding",
    "beyond_declared",
    "high_risk_country",
    "psp_switching",
    "dormant_reactivation",
    "mirror_trading",
    "chargeback_ratio",
)


def planted_cases() -> dict[str, list[int]]:
    from .models import PlantedCase

    found: dict[str, list[int]] = {code: [] for code in TYPOLOGIES}
    for code, client_id in PlantedCase.objects.order_by("typology", "client_id").values_list(
        "typology", "client_id"
    ):
        found.setdefault(code, []).append(client_id)
    return found


def planted_client_ids() -> set[int]:
    from .models import PlantedCase

    return set(PlantedCase.objects.values_list("client_id", flat=True))


def book_seeded_at():
    """When the demo book was seeded, read from its data: the time its AML cases were planted
    (`seed_demo`'s "now", from which every planted case and the book's year are timed), else
    its newest money row; None for a database without a book. A benchmark on a clone of a book
    seeded days ago measures the book's month, not the days since."""
    from django.db.models import Max

    from finance.models import Deposit, Withdrawal

    from .models import PlantedCase

    planted = PlantedCase.objects.aggregate(at=Max("planted_at"))["at"]
    if planted is not None:
        return planted
    newest = [
        Deposit.objects.aggregate(at=Max("completed_at"))["at"],
        Withdrawal.objects.aggregate(at=Max("requested_at"))["at"],
    ]
    return max((at for at in newest if at is not None), default=None)
