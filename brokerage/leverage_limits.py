"""Kernel selectors of the leverage limits (`brokerage.models.LeverageLimit`): what clients reads
to cap the leverage a trading account is opened with or changed to, without importing
compliance.

    caps = class_caps(country="GB", category="retail")   # {"fx_major": Cap(30, ...), ...}
    ceiling = account_cap(country="GB", category="retail")  # the highest class cap: 1:30

A limit names a country (ISO alpha-2) or a region (`brokerage.models.Region`, the one regions
table: EEA, UK, AU ...). For each instrument class the client's country of residence's own limit
wins; failing one, the lowest of its regions' limits applies; failing both, nothing caps that
class.

How an account's one leverage relates to the per-class caps (docs/leverage-limits.md): an MT5
account has a single leverage, and each class's lower cap is the platform group's margin rate
per symbol. So the account's leverage is capped by the highest class cap (`account_cap`), the
class caps are shown beside it, and the broker's retail groups carry the per-class margins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db.models import OuterRef, Q, Subquery

from .intl import country_name
from .models import LeverageLimit, Region
from .regions import region_list
from .statements import Statement

# The finer classes leverage limits know (`clients.instruments`: gold among metals, the major
# indices among indices), each with its class: a limit on the class caps the finer class too
# where no limit of the same jurisdiction names it.
FINER_CLASSES = {"gold": "metals", "indices_major": "indices"}


@dataclass(frozen=True)
class Cap:
    instrument_class: str
    max_leverage: int
    limit: LeverageLimit
    jurisdiction_name: str
    via: str = "residence"  # or "nationality" (settings.LEVERAGE_LIMITS_BY_NATIONALITY)

    @property
    def allowed(self) -> bool:
        """False for a limit of 0: the class is not allowed at all (FCA PS20/10: crypto for UK
        retail clients)."""
        return self.max_leverage > 0

    @property
    def label(self) -> str:
        return f"1:{self.max_leverage}" if self.allowed else "Not allowed"

    @property
    def title(self) -> str:
        """How a refusal names the limit: 'leverage limit 7 (United Kingdom, retail: FCA ...)'."""
        return (
            f"leverage limit {self.limit.pk} ({self.jurisdiction_name}, "
            f"{self.limit.get_category_display().lower()}: {self.limit.basis})"
        )


class CapBook:
    """Limits and regions read once, so the caps of a whole book of clients are worked out
    without a query per client (`CapBook.load()`: two queries; the book sweep uses it)."""

    def __init__(self, regions: list[Region], limits) -> None:
        self.regions = regions
        self.limits: dict[tuple[str, str], list[LeverageLimit]] = {}
        for limit in sorted(limits, key=lambda x: x.pk):
            self.limits.setdefault((limit.jurisdiction, limit.category), []).append(limit)

    @classmethod
    def load(cls) -> CapBook:
        return cls(list(region_list()), LeverageLimit.objects.all())

    def class_caps(self, *, country: str, category: str) -> dict[str, Cap]:
        country = (country or "").upper()
        if not country:
            return {}
        regions = {r.code: r.name for r in self.regions if country in (r.countries or [])}
        regional: dict[str, Cap] = {}
        for code, name in regions.items():
            for limit in self.limits.get((code, category), ()):
                held = regional.get(limit.instrument_class)
                if held is None or limit.max_leverage < held.max_leverage:
                    regional[limit.instrument_class] = Cap(
                        limit.instrument_class, limit.max_leverage, limit, name
                    )
        own = {
            limit.instrument_class: Cap(
                limit.instrument_class, limit.max_leverage, limit, country_name(country)
            )
            for limit in self.limits.get((country, category), ())
        }
        return _finer({**_finer(regional), **_finer(own)})


def _finer(caps: dict[str, Cap]) -> dict[str, Cap]:
    """A class's cap also caps its finer class where nothing caps that."""
    for finer, coarse in FINER_CLASSES.items():
        if finer not in caps and coarse in caps:
            caps[finer] = replace(caps[coarse], instrument_class=finer)
    return caps


def _limits(v):
    holding = Region.objects.filter(countries__contains=v.countries)
    return (
        LeverageLimit.objects.filter(category=v.category)
        .filter(Q(jurisdiction=v.country) | Q(jurisdiction__in=holding.values("code")))
        .annotate(
            region_name=Subquery(holding.filter(code=OuterRef("jurisdiction")).values("name")[:1])
        )
    )


_LIMITS = Statement(_limits)  # compiled once per process (brokerage.statements)


def class_caps(*, country: str, category: str) -> dict[str, Cap]:
    """Each capped instrument class's cap for a client of `category` residing in `country`
    (one query: the limits on the country and on the regions that hold it, each limit of a
    region carrying the region's name)."""
    country = (country or "").upper()
    if not country:
        return {}
    limits = _LIMITS(country=country, countries=[country], category=category)
    regions = {
        limit.jurisdiction: Region(
            code=limit.jurisdiction, name=limit.region_name, countries=[country]
        )
        for limit in limits
        if limit.region_name is not None
    }
    held = sorted(regions.values(), key=lambda r: r.code)
    return CapBook(held, limits).class_caps(country=country, category=category)


def account_cap(*, country: str, category: str) -> Cap | None:
    """The highest leverage an account of such a client may have (the highest class cap), or
    None when no limit applies."""
    return highest(class_caps(country=country, category=category))


def highest(caps: dict[str, Cap]) -> Cap | None:
    """Of class caps, the highest: an account's ceiling (a class not allowed at all caps no
    account's leverage: it keeps the client from the account types that trade it)."""
    allowed = [c for c in caps.values() if c.allowed]
    return max(allowed, key=lambda c: (c.max_leverage, -c.limit.pk), default=None)


def not_allowed(caps: dict[str, Cap]) -> dict[str, Cap]:
    """Of class caps, the classes not allowed at all."""
    return {code: cap for code, cap in caps.items() if not cap.allowed}


def leverage_limit_list(*, jurisdiction: str = "", category: str = ""):
    qs = LeverageLimit.objects.all()
    if jurisdiction:
        qs = qs.filter(jurisdiction=jurisdiction.upper())
    if category:
        qs = qs.filter(category=category)
    return qs.order_by("jurisdiction", "category", "instrument_class")


def leverage_region_list():
    return region_list()
