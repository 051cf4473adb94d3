"""Ships version 1 of each of the ten typologies, live, with the shared spec's defaults (a
copy: later changes to the catalogue do not rewrite what was shipped)."""

from django.db import migrations
from django.utils import timezone

# (code, name, description, parameters) as shipped.
SCENARIOS = [
    (
        "quick_in_out",
        "Deposit then withdrawal with little trading",
        "Money deposited and asked back within a short window with almost no trading in between: the account used to pass money through, not to trade.",
        {
            "window_days": 14,
            "min_deposit_usd": "2000",
            "withdrawal_ratio": "0.8",
            "max_lots": "1.0",
        },
    ),
    (
        "structuring",
        "Structuring under a threshold",
        "Several deposits (or several withdrawals) each just under a reporting threshold within a few days: amounts split to stay under it.",
        {"min_count": 3, "band": "0.1", "threshold_usd": "10000", "window_days": 7},
    ),
    (
        "velocity",
        "Deposits far above the client's own history",
        "Deposits in the last days many times the client's own weekly average.",
        {
            "window_days": 7,
            "multiple": "5",
            "history_days": 180,
            "min_history_days": 60,
            "min_amount_usd": "5000",
        },
    ),
    (
        "third_party_funding",
        "Third-party funding",
        "A deposit paid by someone whose name is not the client's, or one card, account or wallet funding several clients.",
        {"min_amount_usd": "500", "name_similarity": "0.6", "shared_clients": 2, "window_days": 90},
    ),
    (
        "beyond_declared",
        "Deposits beyond declared income or net worth",
        "A year's deposits above what the client declared they would deposit and above a share of their declared income, or above their declared net worth.",
        {
            "window_days": 365,
            "expected_multiple": "1.5",
            "income_share": "0.5",
            "net_worth_share": "1.0",
        },
    ),
    (
        "high_risk_country",
        "Flows to or from a high-risk jurisdiction",
        "A deposit or withdrawal through a card, account or bank of a high-risk country.",
        {"min_amount_usd": "1000", "countries": []},
    ),
    (
        "psp_switching",
        "Switching payment providers after a refusal",
        "Deposit attempts through several providers with failures until one goes through, or a rejected withdrawal asked again by another method.",
        {"window_hours": 24, "min_psps": 3, "min_failed": 2},
    ),
    (
        "dormant_reactivation",
        "Dormant account suddenly active",
        "No money or trading for months, then large deposits or withdrawals in a few days.",
        {"dormant_days": 180, "min_amount_usd": "10000", "window_days": 7},
    ),
    (
        "mirror_trading",
        "Mirror trading between linked clients",
        "Opposite deals in one symbol within seconds between clients who share a payer, an IP address or a device.",
        {"min_pairs": 3, "seconds": 10, "window_days": 7},
    ),
    (
        "chargeback_ratio",
        "Chargeback ratio",
        "Many of the client's deposits charged back.",
        {"window_days": 180, "min_chargebacks": 2, "ratio": "0.25"},
    ),
]


def ship(apps, schema_editor):
    Scenario = apps.get_model("aml", "Scenario")
    ScenarioVersion = apps.get_model("aml", "ScenarioVersion")
    for code, name, description, params in SCENARIOS:
        scenario, _ = Scenario.objects.get_or_create(
            code=code, defaults={"name": name, "description": description}
        )
        if not scenario.versions.exists():
            ScenarioVersion.objects.create(
                scenario=scenario,
                number=1,
                params=params,
                alert_score=50,
                hold_score=80,
                status="live",
                note="Shipped with the product.",
                published_at=timezone.now(),
            )


class Migration(migrations.Migration):
    dependencies = [("aml", "0001_monitoring")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
