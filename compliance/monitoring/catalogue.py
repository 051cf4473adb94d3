"""The ten typologies the monitoring ships: each one's code, name, what it looks for, its
parameters (with the defaults version 1 ships and the bounds an officer may set) and how a
version's parameters are validated. Codes and defaults are the shared spec's; the migration
that ships version 1 copies these defaults."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from brokerage.errors import InvalidInput


@dataclass(frozen=True)
class Param:
    key: str
    label: str
    kind: str  # "int", "amount" (USD), "ratio", "countries"
    default: object
    low: Decimal | int | None = None
    high: Decimal | int | None = None


@dataclass(frozen=True)
class Typology:
    code: str
    name: str
    description: str
    params: tuple[Param, ...]

    @property
    def defaults(self) -> dict:
        return {p.key: p.default for p in self.params}


def _days(key="window_days", default=7, label="Window (days)", high=730):
    return Param(key, label, "int", default, 1, high)


def _usd(key, default, label):
    return Param(key, label, "amount", default, Decimal("0"), Decimal("100000000"))


def _ratio(key, default, label, high=Decimal("100")):
    return Param(key, label, "ratio", default, Decimal("0"), high)


def _count(key, default, label, low=1, high=1000):
    return Param(key, label, "int", default, low, high)


TYPOLOGIES: dict[str, Typology] = {
    t.code: t
    for t in [
        Typology(
            "quick_in_out",
            "Deposit then withdrawal with little trading",
            "Money deposited and asked back within a short window with almost no trading in "
            "between: the account used to pass money through, not to trade.",
            (
                _days(default=14),
                _usd("min_deposit_usd", "2000", "Deposits at least (USD)"),
                _ratio("withdrawal_ratio", "0.8", "Withdrawn at least this share of them"),
                _ratio("max_lots", "1.0", "Fewer lots traded than", high=Decimal("100000")),
            ),
        ),
        Typology(
            "structuring",
            "Structuring under a threshold",
            "Several deposits (or several withdrawals) each just under a reporting threshold "
            "within a few days: amounts split to stay under it.",
            (
                _count("min_count", 3, "At least this many", low=2),
                _ratio("band", "0.1", "Within this share below the threshold", Decimal("1")),
                _usd("threshold_usd", "10000", "Threshold (USD)"),
                _days(default=7),
            ),
        ),
        Typology(
            "velocity",
            "Deposits far above the client's own history",
            "Deposits in the last days many times the client's own weekly average.",
            (
                _days(default=7),
                _ratio("multiple", "5", "Times the weekly average", Decimal("1000")),
                _days("history_days", 180, "History read (days)", high=1825),
                _days("min_history_days", 60, "Only clients with history of (days)", high=1825),
                _usd("min_amount_usd", "5000", "Deposits at least (USD)"),
            ),
        ),
        Typology(
            "third_party_funding",
            "Third-party funding",
            "A deposit paid by someone whose name is not the client's, or one card, account "
            "or wallet funding several clients.",
            (
                _usd("min_amount_usd", "500", "Deposit at least (USD)"),
                _ratio("name_similarity", "0.6", "Payer name similarity below", Decimal("1")),
                _count("shared_clients", 2, "Instrument shared by at least (clients)", low=2),
                _days(default=90),
            ),
        ),
        Typology(
            "beyond_declared",
            "Deposits beyond declared income or net worth",
            "A year's deposits above what the client declared they would deposit and above "
            "a share of their declared income, or above their declared net worth.",
            (
                _days(default=365),
                _ratio("expected_multiple", "1.5", "Times the declared yearly deposits"),
                _ratio("income_share", "0.5", "Share of the income band's ceiling"),
                _ratio("net_worth_share", "1.0", "Share of the net worth band's ceiling"),
            ),
        ),
        Typology(
            "high_risk_country",
            "Flows to or from a high-risk jurisdiction",
            "A deposit or withdrawal through a card, account or bank of a high-risk country.",
            (
                _usd("min_amount_usd", "1000", "Amount at least (USD)"),
                Param("countries", "Countries (empty: the high-risk list)", "countries", []),
            ),
        ),
        Typology(
            "psp_switching",
            "Switching payment providers after a refusal",
            "Deposit attempts through several providers with failures until one goes through, "
            "or a rejected withdrawal asked again by another method.",
            (
                _days("window_hours", 24, "Window (hours)", high=720),
                _count("min_psps", 3, "Distinct providers at least", low=2),
                _count("min_failed", 2, "Failed attempts at least", low=1),
            ),
        ),
        Typology(
            "dormant_reactivation",
            "Dormant account suddenly active",
            "No money or trading for months, then large deposits or withdrawals in a few days.",
            (
                _days("dormant_days", 180, "Dormant for at least (days)", high=3650),
                _usd("min_amount_usd", "10000", "Then at least (USD)"),
                _days(default=7),
            ),
        ),
        Typology(
            "mirror_trading",
            "Mirror trading between linked clients",
            "Opposite deals in one symbol within seconds between clients who share a payer, an "
            "IP address or a device.",
            (
                _count("min_pairs", 3, "Pairs of opposite deals at least"),
                _count("seconds", 10, "Opened within (seconds)", high=3600),
                _days(default=7),
            ),
        ),
        Typology(
            "chargeback_ratio",
            "Chargeback ratio",
            "Many of the client's deposits charged back.",
            (
                _days(default=180),
                _count("min_chargebacks", 2, "Chargebacks at least"),
                _ratio("ratio", "0.25", "Chargebacks per completed deposit at least", Decimal("1")),
            ),
        ),
    ]
}

CODES = list(TYPOLOGIES)


def clean_params(code: str, raw: dict) -> dict:
    """A version's parameters, checked against the typology: every key known, every value in
    its bounds; a missing key takes the default. Amounts and ratios are kept as strings (exact
    decimals in JSON). InvalidInput names each refused field."""
    typology = TYPOLOGIES[code]
    if not isinstance(raw, dict):
        raise InvalidInput("Parameters are a set of named values.", code="bad_params")
    unknown = sorted(set(raw) - {p.key for p in typology.params})
    errors: dict[str, list[str]] = {k: ["Not a parameter of this scenario."] for k in unknown}
    cleaned: dict = {}
    for p in typology.params:
        value = raw.get(p.key, p.default)
        try:
            cleaned[p.key] = _clean(p, value)
        except ValueError as exc:
            errors[p.key] = [str(exc)]
    if errors:
        raise InvalidInput("Check the parameters.", code="bad_params", fields=errors)
    return cleaned


def _clean(p: Param, value):
    if p.kind == "countries":
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, list | tuple):
            raise ValueError("A list of two-letter country codes.")
        codes = sorted({str(v).strip().upper() for v in value})
        bad = [c for c in codes if len(c) != 2 or not c.isalpha() or not c.isascii()]
        if bad:
            raise ValueError(f"Not two-letter country codes: {', '.join(bad[:5])}.")
        return codes
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > 30:
        raise ValueError("A number is needed.")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("A number is needed.") from None
    if not number.is_finite():
        raise ValueError("A number is needed.")
    if p.kind == "int":
        if number != number.to_integral_value():
            raise ValueError("A whole number is needed.")
        number = int(number)
    if (p.low is not None and number < p.low) or (p.high is not None and number > p.high):
        raise ValueError(f"Between {p.low} and {p.high}.")
    if p.kind == "int":
        return number
    if p.kind == "ratio" and number <= 0:
        raise ValueError("More than 0.")
    return format(number.normalize(), "f")


def clean_scores(alert_score, hold_score) -> tuple[int, int | None]:
    """Scores 0-100; a hold score (optional) at or above the alert score."""
    errors: dict[str, list[str]] = {}
    values = {}
    for key, value, optional in (
        ("alert_score", alert_score, False),
        ("hold_score", hold_score, True),
    ):
        text = "" if value is None else str(value).strip()
        if not text and optional:
            values[key] = None
            continue
        if not text.isdigit() or not 0 <= int(text) <= 100:
            errors[key] = ["A whole number from 0 to 100."]
            continue
        values[key] = int(text)
    if (
        not errors
        and values["hold_score"] is not None
        and values["hold_score"] < values["alert_score"]
    ):
        errors["hold_score"] = ["At or above the alert score (empty: never hold)."]
    if errors:
        raise InvalidInput("Check the scores.", code="bad_scores", fields=errors)
    return values["alert_score"], values["hold_score"]
