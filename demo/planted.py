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
