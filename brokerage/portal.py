"""The client portal's overview, composed across apps (hook `portal.overview`).

Each app answers `fn(client) -> OverviewPart`: tiles (what the client has: wallets, identity
check, trading accounts) and next steps (what to do now). The overview shows every tile and the
most urgent step (lowest `rank`): verify, deposit, open an account, trade.
"""

from dataclasses import dataclass, field


@dataclass
class Tile:
    key: str
    title: str
    icon: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    state: str = ""  # a short badge: "Verified", "In review"
    tone: str = "secondary"  # the badge's Bootstrap colour
    url: str = ""
    link_text: str = ""
    order: int = 100
    empty: str = ""  # shown when there are no lines


@dataclass
class NextStep:
    rank: int  # verify 10, deposit 20, open an account 30, trade 40
    title: str
    text: str
    url: str = ""
    button: str = ""
    icon: str = "arrow-right-circle"


@dataclass
class OverviewPart:
    tiles: list[Tile] = field(default_factory=list)
    steps: list[NextStep] = field(default_factory=list)


@dataclass
class Notice:
    """A notice on every portal page: something that limits the client or that they should act
    on, in their words. Never a compliance matter the client must not be tipped off about (a
    sanctions match, an AML case): no app contributes those."""

    code: str  # stable: "jurisdiction_restricted", "source_of_funds_required", ...
    title: str
    text: str
    tone: str = "warning"  # a Bootstrap alert colour: warning, info, success, danger
    icon: str = "info-circle"
    url: str = ""
    link_text: str = ""
    order: int = 100


def portal_notices(client) -> list[Notice]:
    """Every app's notices for the client, in order (hook `portal.notices`)."""
    from .hooks import PORTAL_NOTICES, contributions

    notices = [n for provider in contributions(PORTAL_NOTICES) for n in provider(client)]
    return sorted(notices, key=lambda n: n.order)


@dataclass
class ProfileCard:
    key: str
    template: str
    context: dict = field(default_factory=dict)


def portal_profile_cards(client, forms: dict | None = None) -> list[ProfileCard]:
    """The apps' cards on the profile page; `forms` holds bound forms by card key, for a card
    to show again with the errors of a refused change."""
    from .hooks import PORTAL_PROFILE, contributions

    return [provider(client, forms or {}) for provider in contributions(PORTAL_PROFILE)]


def portal_overview(client) -> tuple[list[Tile], NextStep | None]:
    """Every app's tiles in order, and the one next step to show first."""
    from .hooks import PORTAL_OVERVIEW, contributions

    tiles, steps = [], []
    for provider in contributions(PORTAL_OVERVIEW):
        part = provider(client)
        tiles += part.tiles
        steps += part.steps
    tiles.sort(key=lambda t: t.order)
    return tiles, min(steps, key=lambda s: s.rank, default=None)
