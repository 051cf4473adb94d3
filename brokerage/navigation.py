"""Navigation of each audience's layout.

Each app contributes its menu entries as `NavItem`s to the audience's hook (`nav.backoffice`,
`nav.portal`, `nav.partners`) in its `contributions.py`; the menu lists them by `order`, then
label, and shows a user only those whose permission they hold.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from .hooks import NAV_BACKOFFICE, NAV_PARTNERS, NAV_PORTAL, contributions


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str = "circle"
    perm: str | None = None
    order: int = 100
    section: str = ""


# Each audience (the first part of its URLs) and the hook its menu is read from.
NAV_HOOKS: dict[str, str] = {
    "backoffice": NAV_BACKOFFICE,
    "portal": NAV_PORTAL,
    "partners": NAV_PARTNERS,
}


def nav_items(audience: str) -> list[NavItem]:
    """Every entry contributed to the audience's menu, by order, then label."""
    hook = NAV_HOOKS.get(audience)
    if hook is None:
        return []
    return sorted(contributions(hook), key=lambda i: (i.order, i.label))


def nav_for(audience: str, user, current_path: str) -> list[dict]:
    entries = []
    for item in nav_items(audience):
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
    for audience in NAV_HOOKS:
        if path.startswith(f"/{audience}/"):
            return audience
    return None
