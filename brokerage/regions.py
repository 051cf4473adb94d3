"""The regions: named sets of countries (`brokerage.models.Region`) that leverage limits name
instead of one country and IB plans narrow rates to. One table for every app.

    regions_of("DE")                       # [<Region EEA>]
    region_save(actor=user, code="GCC", name="Gulf Cooperation Council", countries="AE SA ...")

A region is made and changed only through `region_save` (IB managers, compliance officers, ops
admins in admin), audited with its countries before and after and kept in its history. Its code
is how leverage limits and plan rates name it, so it is fixed once the region is made. An app
that relies on a region's countries refuses a change to them through the
`region.change_refusals` hook; the refusal names its reason to whoever made the change.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit_events
from .audit import Actor, audit_record
from .errors import InvalidInput, NotAllowed
from .hooks import REGION_CHANGE_REFUSALS, contributions
from .intl import country_name, is_country
from .models import Region

EDIT_PERMS = ("brokerage.manage_regions", "brokerage.change_region")


def region_list():
    return Region.objects.order_by("code")


def regions_of(country: str) -> list[Region]:
    """The regions that hold `country`."""
    country = (country or "").upper()
    return list(Region.objects.filter(countries__contains=[country]).order_by("code"))


def region_country_names(region: Region) -> list[tuple[str, str]]:
    """A region's countries as (code, name), by name."""
    return sorted(((c, country_name(c)) for c in region.countries), key=lambda c: c[1])


def region_countries(raw) -> list[str]:
    """A region's countries from a list or text ("DE, FR AT"), checked, sorted, once each."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw or [])
    countries, unknown = set(), []
    for item in items:
        code = str(item).strip().upper()
        if is_country(code):
            countries.add(code)
        elif code:
            unknown.append(code)
    if unknown:
        raise InvalidInput(
            f"Not countries (two-letter ISO codes): {', '.join(unknown)}.",
            fields={"countries": ["Unknown codes."]},
        )
    if not countries:
        raise InvalidInput("A region has at least one country.", fields={"countries": ["Empty."]})
    return sorted(countries)


def region_change_refusals(region: Region | None, countries: list[str]) -> list[str]:
    """Why `region`'s countries may not become `countries`: each app's reason (none for a new
    region, or when the countries stay as they are)."""
    if region is None or region.pk is None:
        return []
    before = Region.objects.filter(pk=region.pk).values_list("countries", flat=True).first()
    if sorted(before or []) == sorted(countries):
        return []
    reasons = (refuse(region, countries) for refuse in contributions(REGION_CHANGE_REFUSALS))
    return [r for r in reasons if r]


def region_change_check(region: Region | None, countries: list[str]) -> None:
    reasons = region_change_refusals(region, countries)
    if reasons:
        raise InvalidInput(" ".join(reasons), fields={"countries": reasons})


def can_edit_regions(user) -> bool:
    return any(user.has_perm(p) for p in EDIT_PERMS)


@transaction.atomic
def region_save(
    *, actor: Actor, code: str, name: str, countries, region: Region | None = None
) -> Region:
    """Make a region, or change `region`'s name and countries; audited, in its history."""
    if not isinstance(actor, str) and not can_edit_regions(actor):
        raise NotAllowed("Only IB managers, compliance officers and ops admins change regions.")
    if region is not None and region.pk is not None:
        region = Region.objects.select_for_update().get(pk=region.pk)
        code = region.code
    code = (code or "").strip().upper()
    name = " ".join((name or "").split())
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the region a name."]
    elif len(name) > 100:
        errors["name"] = ["At most 100 characters."]
    if region is None and Region.objects.filter(code=code).exists():
        errors["code"] = [f"There is already a region {code}."]
    if errors:
        raise InvalidInput("The region cannot be saved.", fields=errors)
    members = region_countries(countries)
    region_change_check(region, members)
    before = None
    if region is None:
        region = Region(code=code)
    else:
        before = {"name": region.name, "countries": sorted(region.countries)}
    region.name, region.countries = name, members
    region.updated_at = timezone.now()
    region.updated_by_label = actor if isinstance(actor, str) else actor.email
    try:
        region.full_clean()
    except ValidationError as exc:
        raise InvalidInput(
            "The region cannot be saved: " + " ".join(exc.messages), fields=exc.message_dict
        ) from None
    region.save()
    audit_record(
        actor=actor,
        action=audit_events.REGION_SAVED,
        target=region,
        evidence={"code": code, "name": name, "countries": members, "before": before},
    )
    return region
