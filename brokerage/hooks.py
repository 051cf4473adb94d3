"""One way for apps to extend each other's pages and rules: named hooks in the kernel.

A lower app asks a question through a hook (the client 360 asks for its sections, the portal
for its navigation, finance for a client's standing) without importing the apps above it;
each app answers in one module of its own, `<app>/contributions.py`, which is imported for
every installed app when the kernel is ready (as Django's admin finds `admin.py`). So:

    # kyc/contributions.py
    from brokerage.hooks import CLIENT_360_SECTIONS, contribute

    @contribute(CLIENT_360_SECTIONS, order=40)
    def kyc_360(client, user): ...

    contribute(NAV_PORTAL, NavItem("Verify", "kyc:wizard", "person-vcard", order=10))

and the asking side reads `contributions(CLIENT_360_SECTIONS)`, in `order`, then in the order
apps are installed. A hook that is not declared here is refused, so a typo fails at start-up,
not silently. Contributing the same object twice to a hook adds it once.

What each hook's contributions are (the asking side documents the exact signature):
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from importlib.util import find_spec


@dataclass(frozen=True)
class Hook:
    name: str
    doc: str


HOOKS: dict[str, Hook] = {}


def declare(name: str, doc: str) -> str:
    HOOKS[name] = Hook(name, doc)
    return name


CLIENT_360_SECTIONS = declare(
    "client360.sections",
    "fn(client, user) -> Contribution: a part of the client 360 (clients.client360).",
)
DASHBOARD_PANELS = declare(
    "dashboard.panels",
    "fn(user) -> Panel: KPIs, charts and queues on the back-office home (brokerage.dashboard).",
)
NAV_BACKOFFICE = declare("nav.backoffice", "NavItem: a link in the staff back-office menu.")
NAV_PORTAL = declare("nav.portal", "NavItem: a link in the client portal menu.")
NAV_PARTNERS = declare("nav.partners", "NavItem: a link in the IB partner dashboard menu.")
HEALTH_FIGURES = declare(
    "health.figures",
    "(name, fn() -> JSON-able): a figure on /healthz that does not decide its status code.",
)
CLIENT_STANDING = declare(
    "client.standing",
    "fn(client, purpose) -> iterable of Reason: why a client may not deposit, withdraw, "
    "transfer or open an account (clients.standing).",
)
CLIENT_REGISTERED = declare(
    "client.registered",
    "fn(client_id: int): a client or a partner's account holder was just registered, called "
    "in its transaction (compliance screens it once that commits).",
)
CLIENT_NAME_REPORTED = declare(
    "client.name_reported",
    "fn(client_id: int, *, origin: str, name: str = '', reference: str = '', dob=None, "
    "nationality: str = ''): something new is known of who a client is: a name read from a "
    "KYC document's MRZ ('kyc_document'), a deposit's payer as the PSP names them "
    "('deposit_payer'), or the client's name, date of birth or nationality changed "
    "('details_changed'); called in its transaction (compliance screens the client once that "
    "commits).",
)
RISK_FACTOR_CHANGED = declare(
    "client.risk_factor_changed",
    "fn(client_id: int, cause: str): something a client's risk rating reads changed (a KYC "
    "outcome, a deposit, a financial profile, a screening decision), called in its "
    "transaction (compliance rates the client again once that commits).",
)
CLIENT_COUNTRY_CHANGED = declare(
    "client.country_changed",
    "fn(client_id: int, via: str): a client's country of residence ('residence') or "
    "nationality ('nationality') changed, called in its transaction (compliance applies the "
    "jurisdiction rules to the client at once).",
)
DEALS_SYNCED = declare(
    "platform.deals_synced",
    "fn(deal_ids: list[int]): deals a sync pass just stored, called after they commit "
    "(ib pays IB commissions on them).",
)
DEALS_REVISED = declare(
    "platform.deals_revised",
    "fn(revision_ids: list[int]): deals the platform corrected or removed (clients.DealRevision), "
    "called after they commit (ib reverses their commissions and pays them again).",
)
RETENTION_SIGNALS = declare(
    "retention.signals",
    "(code, label, fn(client_ids, now) -> {client_id: detail}): a reason an inactive client "
    "is flagged, shown to the agent (clients.retention.signals).",
)
PORTAL_OVERVIEW = declare(
    "portal.overview",
    "fn(client) -> OverviewPart: tiles and next steps on the client portal's overview "
    "(brokerage.portal).",
)
PORTAL_NOTICES = declare(
    "portal.notices",
    "fn(client) -> iterable of Notice: what the client should know on every portal page, in "
    "words a client reads (brokerage.portal); never a sanctions match or an AML case.",
)
PORTAL_PROFILE = declare(
    "portal.profile",
    "fn(client, forms) -> ProfileCard: a card of what the client may change on their "
    "profile; `forms` holds bound forms by card key after a refused change (brokerage.portal).",
)
CLIENT_LINK_SOURCES = declare(
    "client.links",
    "LinkSource(code, rows, describe): evidence that clients are related, as rows of (client, "
    "key, detail); clients sharing a key are linked (clients.links).",
)
CLIENT_LIST_FILTERS = declare(
    "clients.list_filters",
    "(name, fn(value) -> (condition, label) | None): a query-string filter of the back-office "
    "client list that an app above clients knows (finance: the PSP of the first deposit), so "
    "a figure's drill-down narrows the list as the figure does; None for a value it refuses.",
)
REGION_CHANGE_REFUSALS = declare(
    "region.change_refusals",
    "fn(region, countries: list[str]) -> str | None: why a region's countries may not become "
    "`countries` (ib: a plan version pricing by it has paid a line), or None; any reason "
    "refuses the change, whoever makes it (brokerage.regions).",
)
AML_CASE_LIFT_REFUSALS = declare(
    "client.aml_case_lift_refusals",
    "fn(client) -> str | None: why a client's AML case reason may not be lifted now (compliance: "
    "a case of theirs is still active), or None; any reason refuses the lift, whoever asks "
    "(clients.services.client_aml_case_set).",
)
MONEY_MOVED = declare(
    "money.moved",
    "fn(kind: str, pk: int) -> list[dict]: a deposit completed, a withdrawal requested, a "
    "transfer completed, a refund or a chargeback recorded ('deposit', 'withdrawal', "
    "'transfer', 'refund', 'chargeback'), called in its transaction. For a withdrawal, the "
    "review reasons ({code, severity, message}) its checks add (compliance's AML monitoring "
    "evaluates it there); for the others, [] (compliance evaluates them once they commit).",
)
ROLLUPS = declare(
    "rollups",
    "Rollup: an app's figures kept in its own rollup tables, rebuilt from raw records, "
    "refreshed since a watermark and answering for a leadership filter (brokerage.rollups).",
)
TEAM_PARTS = declare(
    "dashboards.team",
    "TeamPart: an app's figures, charts and tables on a team's dashboard (sales, retention, "
    "finance, compliance, dealing), answering for a filter like a rollup (brokerage.teams).",
)
USD_RATES = declare(
    "fx.usd_rates",
    "fn(days: list[date]) -> {date: {currency: Decimal}}: each currency's USD value as the "
    "rates stood at the end of each day (finance); figures of apps below finance convert by it.",
)
ALERT_METRICS = declare(
    "alerts.metrics",
    "AlertMetric: a queue or rate an app measures, with its team, its heads' permission and a "
    "default limit; a reading over the limit tells the heads once (brokerage.alerts).",
)
DOSSIER_SECTIONS = declare(
    "dossier.sections",
    "fn(client) -> section: a part of the compliance dossier about one client.",
)


@dataclass
class _Entry:
    item: object
    order: int
    index: int = field(default=0)


_registry: dict[str, list[_Entry]] = {}
_counter = 0


def _check(hook: str) -> None:
    if hook not in HOOKS:
        raise LookupError(f"No hook named {hook!r}; the kernel declares {sorted(HOOKS)}.")


def contribute(hook: str, item=None, *, order: int = 100):
    """Add `item` to `hook`; without `item`, a decorator that adds the decorated function."""
    _check(hook)
    if item is None:

        def decorator(fn):
            contribute(hook, fn, order=order)
            return fn

        return decorator
    global _counter
    entries = _registry.setdefault(hook, [])
    if not any(e.item is item for e in entries):
        _counter += 1
        entries.append(_Entry(item, order, _counter))
    return item


def contributions(hook: str) -> list:
    """What the apps contributed to `hook`, by `order`, then in the order they were added."""
    _check(hook)
    return [e.item for e in sorted(_registry.get(hook, []), key=lambda e: (e.order, e.index))]


def autodiscover() -> None:
    """Import `contributions` of every installed app (called once, from the kernel's ready())."""
    from django.apps import apps

    for app_config in apps.get_app_configs():
        module = f"{app_config.name}.contributions"
        if find_spec(module) is not None:
            import_module(module)


__doc__ += "".join(f"\n- `{h.name}`: {h.doc}" for h in HOOKS.values())
