"""The client risk rating: a score from named factors, each with its points and explanation.

`risk_factors(client_ids)` reads everything the rating needs for many clients at once (a
handful of queries whatever their number: the nightly sweep rates the book in batches) and
returns each client's factors in a fixed order:

- residence and nationality: the country risk table compliance keeps (`CountryRisk`), and
  the jurisdiction rules in force on either (the kernel's country rules: blocked, restricted,
  enhanced due diligence);
- screening: a confirmed sanctions match, or a confirmed PEP or watch-list match;
- open alerts: screening hits not decided yet;
- declared finances against deposits: what the client has deposited (finance) against the
  expected yearly deposits, yearly income and net worth they declared (kyc); no declaration
  counts too;
- product: the highest leverage among the client's trading accounts;
- volume: lots the client closed over the last year (each trade counted once, not at its
  opening and again at its close);
- payment methods: crypto funding, and instruments another client used as well.

`rating_for(score)` turns the score into low, medium or high by the thresholds in settings
(`RISK_MEDIUM_SCORE`, `RISK_HIGH_SCORE`). Reads only: writing is `services.risk_assess`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from brokerage.country_rules import country_rules_in_force
from brokerage.intl import country_name
from brokerage.money import format_money
from brokerage.statements import Statement
from clients.models import Client
from clients.selectors import trading_profile_by_client
from finance.selectors import deposited_usd_by_client, payment_risk_by_client
from kyc.models import BAND_CEILING
from kyc.selectors import financial_profile_by_client

from .models import UNDECIDED, Alert, AlertStatus, CountryRisk, ListKind

RESIDENCE_POINTS = {"low": 0, "medium": 10, "high": 30}
NATIONALITY_POINTS = {"low": 0, "medium": 5, "high": 15}
JURISDICTION_POINTS = {"blocked": 40, "restricted": 30, "edd": 20}
SANCTIONS_POINTS, PEP_POINTS = 50, 30
OPEN_ALERT_POINTS, OPEN_ALERTS_MAX = 10, 20
UNDECLARED_POINTS = 10
OVER_EXPECTED_POINTS, OVER_INCOME_POINTS, OVER_WEALTH_POINTS = 5, 15, 25
LEVERAGE_POINTS = [(200, 10), (50, 5)]  # (at least, points)
VOLUME_POINTS = [(1000, 10), (100, 5)]  # lots in the last year
CRYPTO_POINTS, SHARED_POINTS = 10, 10


@dataclass(frozen=True)
class Factor:
    code: str
    label: str
    points: int
    explanation: str
    unknown: bool = False  # what the factor reads cannot be valued: no points, the reason shown

    def as_dict(self) -> dict:
        found = asdict(self)
        if not self.unknown:
            del found["unknown"]  # as stored before the flag: no history rewritten for it
        return found


def rating_for(score: int) -> str:
    if score >= settings.RISK_HIGH_SCORE:
        return "high"
    if score >= settings.RISK_MEDIUM_SCORE:
        return "medium"
    return "low"


def _usd(amount: Decimal, currency: str, rates: dict) -> Decimal:
    return amount if currency == "USD" else amount * rates.get(currency, Decimal(1))


def risk_factors(client_ids: list[int]) -> dict[int, list[Factor]]:
    from finance.models import FxRate

    rows = Client.objects.filter(pk__in=client_ids).values_list("pk", "country", "nationality")
    clients = {pk: (country, nationality) for pk, country, nationality in rows}
    countries = dict(CountryRisk.objects.values_list("country", "level"))
    rules: dict[str, list] = {}
    for rule in country_rules_in_force(sorted({c for pair in clients.values() for c in pair if c})):
        rules.setdefault(rule.country, []).append(rule)
    profiles = financial_profile_by_client(client_ids)
    unpriced: dict[int, list[str]] = {}
    deposited = deposited_usd_by_client(client_ids, unpriced=unpriced)
    trading = trading_profile_by_client(client_ids, since=timezone.now() - timedelta(days=365))
    payments = payment_risk_by_client(client_ids)
    rates = dict(FxRate.objects.values_list("currency", "usd_rate"))
    alerts = {
        row["client_id"]: row
        for row in Alert.objects.filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(
            sanctions=Count(
                "pk",
                filter=Q(status=AlertStatus.CONFIRMED, lifted_at__isnull=True)
                & Q(source__kind=ListKind.SANCTIONS),
            ),
            pep=Count(
                "pk",
                filter=Q(status=AlertStatus.CONFIRMED, lifted_at__isnull=True)
                & ~Q(source__kind=ListKind.SANCTIONS),
            ),
            undecided=Count("pk", filter=Q(status__in=UNDECIDED)),
        )
    }
    out = {}
    for client_id, (residence, nationality) in clients.items():
        factors = [
            _country("residence", "Country of residence", residence, countries, RESIDENCE_POINTS),
            _country("nationality", "Nationality", nationality, countries, NATIONALITY_POINTS),
            _jurisdiction(residence, nationality, rules),
            *_screening(alerts.get(client_id, {})),
            _declared(
                profiles.get(client_id),
                deposited.get(client_id, Decimal(0)),
                rates,
                unpriced.get(client_id, []),
            ),
            _product(trading.get(client_id, {}).get("leverage", 0)),
            _volume(trading.get(client_id, {}).get("lots", 0)),
            _payments(payments.get(client_id, {})),
        ]
        out[client_id] = factors
    return out


def _country(code, label, country, countries, points) -> Factor:
    if not country:
        return Factor(code, label, 0, "Not known yet.")
    level = countries.get(country, "low")
    name = country_name(country) or country
    return Factor(
        code,
        label,
        points[level],
        f"{name}: {level} risk in the country risk table."
        if country in countries
        else f"{name}: not in the country risk table (low).",
    )


def _jurisdiction(residence: str, nationality: str, rules: dict) -> Factor:
    """The strictest jurisdiction rule in force on the client's residence or nationality."""
    found = [
        (JURISDICTION_POINTS[rule.kind], rule, via)
        for via, country in (("country of residence", residence), ("nationality", nationality))
        for rule in rules.get(country, [])
        if country
    ]
    if not found:
        return Factor("jurisdiction", "Jurisdiction rules", 0, "No rule in force.")
    points, rule, via = max(found, key=lambda f: (f[0], -f[1].pk))
    return Factor(
        "jurisdiction",
        "Jurisdiction rules",
        points,
        f"{rule.country_name} ({via}): {rule.get_kind_display().lower()} under jurisdiction "
        f"rule {rule.pk} ({rule.basis}).",
    )


def _screening(row: dict) -> list[Factor]:
    if row.get("sanctions"):
        screening = Factor(
            "screening", "Screening", SANCTIONS_POINTS, "A confirmed sanctions list match."
        )
    elif row.get("pep"):
        screening = Factor(
            "screening",
            "Screening",
            PEP_POINTS,
            "A confirmed match on a PEP or watch list (politically exposed person).",
        )
    else:
        screening = Factor("screening", "Screening", 0, "No confirmed match.")
    undecided = row.get("undecided", 0)
    open_alerts = Factor(
        "open_alerts",
        "Open alerts",
        min(OPEN_ALERTS_MAX, OPEN_ALERT_POINTS * undecided),
        f"{undecided} screening alert{'s' if undecided != 1 else ''} waiting for a decision."
        if undecided
        else "No alert waiting.",
    )
    return [screening, open_alerts]


def _declared(profile, deposited_usd: Decimal, rates: dict, unpriced: list[str]) -> Factor:
    label = "Declared finances against deposits"
    if profile is not None and profile.currency != "USD" and profile.currency not in rates:
        unpriced = sorted({*unpriced, profile.currency})
    if unpriced:  # never counted at par: a guess could hide what the client deposited
        names = ", ".join(unpriced)
        return Factor(
            "declared_finances",
            label,
            0,
            f"Unknown: no USD rate for {names}, so the deposits cannot be set against what the "
            "client declared. Ops add the rate (FX rates in admin); the client is rated again "
            "at the next sweep.",
            unknown=True,
        )
    shown = format_money(deposited_usd, "USD")
    if profile is None:
        return Factor(
            "declared_finances",
            label,
            UNDECLARED_POINTS,
            f"No financial profile declared; {shown} deposited.",
        )
    currency = profile.currency
    wealth = _usd(Decimal(BAND_CEILING[profile.net_worth]), currency, rates)
    income = _usd(Decimal(BAND_CEILING[profile.annual_income]), currency, rates)
    expected = _usd(profile.expected_deposits_amount, currency, rates)
    if deposited_usd > wealth:
        points, why = (
            OVER_WEALTH_POINTS,
            f"beyond the declared net worth ({profile.get_net_worth_display()} {currency})",
        )
    elif deposited_usd > income:
        points, why = (
            OVER_INCOME_POINTS,
            f"beyond the declared yearly income ({profile.get_annual_income_display()} {currency})",
        )
    elif deposited_usd > expected:
        points, why = (
            OVER_EXPECTED_POINTS,
            (
                "beyond the expected yearly deposits "
                f"({format_money(profile.expected_deposits_amount, currency)})"
            ),
        )
    else:
        points, why = 0, "within what the client declared"
    return Factor("declared_finances", label, points, f"{shown} deposited: {why}.")


def _product(leverage: int) -> Factor:
    points = next((p for at_least, p in LEVERAGE_POINTS if leverage >= at_least), 0)
    text = f"Highest leverage 1:{leverage}." if leverage else "No trading account."
    return Factor("product", "Product (leverage)", points, text)


def _volume(lots: int) -> Factor:
    points = next((p for at_least, p in VOLUME_POINTS if lots >= at_least), 0)
    return Factor("volume", "Trading volume", points, f"{lots:,} lots closed in the last year.")


def _payments(row: dict) -> Factor:
    points, notes = 0, []
    if row.get("crypto"):
        points += CRYPTO_POINTS
        notes.append("funded with crypto-assets")
    if row.get("shared"):
        points += SHARED_POINTS
        notes.append("a payment instrument another client used too (third-party funding)")
    text = ("; ".join(notes) + ".").capitalize() if notes else "Cards, e-wallets or bank only."
    return Factor("payment_methods", "Payment methods", points, text)


# --- What pages read: the review queue, a client's rating --------------------------------------

DUE_FILTERS = [
    ("due", "Overdue or due in 30 days"),
    ("overdue", "Overdue"),
    ("all", "Every open review"),
    ("completed", "Completed"),
]
SOON_DAYS = 30


def review_list(*, user, due: str = "due", rating: str = "", q: str = ""):
    """The periodic reviews compliance officers work, most overdue first."""
    from brokerage.errors import NotAllowed

    from .models import PeriodicReview
    from .permissions import PERM

    if not user.has_perm(PERM):
        raise NotAllowed("Only compliance officers see the periodic reviews.")
    today = timezone.now().date()
    qs = PeriodicReview.objects.select_related("client__user", "completed_by")
    if due == "completed":
        qs = qs.filter(status="completed").order_by("-completed_at", "-pk")
    else:
        qs = qs.filter(status="open")
        if due == "overdue":
            qs = qs.filter(due_on__lt=today)
        elif due != "all":
            qs = qs.filter(due_on__lte=today + timedelta(days=SOON_DAYS))
        qs = qs.order_by("due_on", "pk")
    if rating:
        qs = qs.filter(client__risk_rating=rating)
    if q:
        qs = qs.filter(
            Q(client__user__email__icontains=q)
            | Q(client__user__last_name__icontains=q)
            | Q(client__user__first_name__icontains=q)
        )
    return qs


def due_colour(due_on, today=None) -> str:
    """Overdue red, due within 30 days amber, later green."""
    today = today or timezone.now().date()
    if due_on < today:
        return "danger"
    return "warning" if due_on <= today + timedelta(days=SOON_DAYS) else "success"


def _risk_history(v):
    from .models import RiskAssessment

    return RiskAssessment.objects.filter(client_id=v.client_id).order_by("-assessed_at", "-pk")[:5]


def _open_review(v):
    from .models import PeriodicReview

    return PeriodicReview.objects.filter(client_id=v.client_id, status="open").order_by(
        "due_on", "pk"
    )[:1]


# client_risk_summary's reads, compiled once per process (brokerage.statements)
_RISK_HISTORY = Statement(_risk_history)
_OPEN_REVIEW = Statement(_open_review)


def client_risk_summary(client) -> dict:
    """The client's rating for the 360: the newest assessment with its factors, the few
    before it, and the open periodic review (two queries)."""
    history = _RISK_HISTORY(client_id=client.pk)
    review = _OPEN_REVIEW.first(client_id=client.pk)
    return {
        "current": history[0] if history else None,
        "history": history[1:],
        "review": review,
        "review_tone": due_colour(review.due_on) if review else "",
    }


def compliance_queues() -> dict:
    """The compliance queues' sizes and their oldest item's age, for the dashboard."""
    from django.db.models import Min

    from kyc.selectors import sof_waiting

    from .models import PeriodicReview

    today = timezone.now().date()
    alerts = Alert.objects.filter(status__in=UNDECIDED).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    reviews = PeriodicReview.objects.filter(status="open", due_on__lte=today).aggregate(
        n=Count("pk"), oldest=Min("due_on")
    )
    return {
        "alerts": alerts,
        "reviews": reviews,
        "sof": sof_waiting(),
        "today": today,
    }
