"""Navigation of each audience's layout. Apps add their entries in `AppConfig.ready()`."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str = "circle"
    perm: str | None = None
    order: int = 100
    section: str = ""


_NAV: dict[str, list[NavItem]] = {"backoffice": [], "portal": [], "partners": []}


def register_nav(audience: str, item: NavItem) -> None:
    items = _NAV[audience]
    if all(existing.url_name != item.url_name for existing in items):
        items.append(item)
        items.sort(key=lambda i: (i.order, i.label))


def nav_for(audience: str, user, current_path: str) -> list[dict]:
    entries = []
    for item in _NAV.get(audience, []):
        if item.perm and not (user.is_superuser or user.has_perm(item.perm)):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        entries.append(
            {
                "label": item.label,
                "url": url,
                "icon": item.icon,
                "active": False,
                "section": item.section,
            }
        )
    # One active entry: the most specific one the page is under (/portal/wallet/deposit/ is
    # "Deposit", not also "Wallet"); an audience's root only on itself.
    roots = ("/backoffice/", "/portal/", "/partners/")
    under = [
        e
        for e in entries
        if (current_path == e["url"] if e["url"] in roots else current_path.startswith(e["url"]))
    ]
    if under:
        max(under, key=lambda e: len(e["url"]))["active"] = True
    return entries


def audience_of_path(path: str) -> str | None:
    for audience in _NAV:
        if path.startswith(f"/{audience}/"):
            return audience
    return None
