import sys

import pytest
from django.apps import apps

from brokerage import hooks


@pytest.fixture
def clean_hook(monkeypatch):
    name = hooks.declare("test.things", "things for a test")
    monkeypatch.setattr(hooks, "_registry", {})
    yield name
    hooks.HOOKS.pop(name)


def test_contributions_come_in_order_then_as_added_and_once(clean_hook):
    def a():
        pass

    def b():
        pass

    hooks.contribute(clean_hook, a, order=50)
    hooks.contribute(clean_hook, order=10)(b)
    hooks.contribute(clean_hook, a, order=50)
    hooks.contribute(clean_hook, "c", order=50)
    assert hooks.contributions(clean_hook) == [b, a, "c"]


def test_an_undeclared_hook_is_refused_when_contributed_and_when_asked():
    with pytest.raises(LookupError, match="No hook named"):
        hooks.contribute("client360.section", lambda client, user: None)
    with pytest.raises(LookupError):
        hooks.contributions("nav.backofice")


def test_every_hook_is_documented_in_the_module():
    for hook in hooks.HOOKS.values():
        assert f"`{hook.name}`" in hooks.__doc__


APPS_THAT_CONTRIBUTE = {"brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance"}


def test_autodiscover_finds_every_apps_contributions_and_nothing_else_contributes(monkeypatch):
    """Run autodiscover again on an empty registry, every app's contributions module imported
    afresh: it must rebuild what the running site has, in the same order, so no extension is
    registered anywhere but in a contributions module (an app's ready(), a decorator in another
    module)."""
    live = {hook: hooks.contributions(hook) for hook in hooks.HOOKS}
    modules = {f"{a.name}.contributions" for a in apps.get_app_configs()} & set(sys.modules)
    assert {m.split(".")[0] for m in modules} == APPS_THAT_CONTRIBUTE
    for module in modules:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(hooks, "_registry", {})

    hooks.autodiscover()

    assert modules <= set(sys.modules)
    assert {hook: hooks.contributions(hook) for hook in hooks.HOOKS} == live
    # Each hook the site answers today, and who answers it.
    assert [name for name, _ in live[hooks.HEALTH_FIGURES]] == [
        "audit_sealing",
        "database_replica",
        "platform_sync",
    ]
    assert [code for code, _, _ in live[hooks.RETENTION_SIGNALS]] == ["failed_withdrawal"]

    def owners(hook):
        return {fn.__module__.split(".")[0] for fn in live[hook]}

    assert owners(hooks.CLIENT_360_SECTIONS) == {
        "clients",
        "leads",
        "kyc",
        "finance",
        "ib",
        "compliance",
    }
    assert owners(hooks.CLIENT_STANDING) == {"kyc", "finance", "compliance"}
    assert owners(hooks.CLIENT_REGISTERED) == {"compliance"}
    assert owners(hooks.CLIENT_NAME_REPORTED) == {"compliance"}
    assert owners(hooks.RISK_FACTOR_CHANGED) == {"compliance"}
    owners_of_panels = {"brokerage", "clients", "leads", "finance", "ib", "compliance"}
    assert owners(hooks.DASHBOARD_PANELS) == owners_of_panels

    def url_names(hook):
        return {item.url_name for item in live[hook]}

    backoffice = {"backoffice:home", "clients:list", "leads:inbox", "kyc_review:queue"}
    backoffice |= {"backoffice:regions", "backoffice:reports"}
    assert backoffice | {"finance:withdrawals", "finance:fx_conversion"} <= url_names(
        hooks.NAV_BACKOFFICE
    )
    assert {"portal:home", "kyc:wizard", "wallet:home"} <= url_names(hooks.NAV_PORTAL)
    assert url_names(hooks.NAV_PARTNERS) == {
        "partners:home",
        "partners:network",
        "partners:clients",
        "partners:links",
        "partners:commissions",
        "partners:earnings",
        "partners:disputes",
        "partners:statements",
        "partners:payouts",
        "partners:rebates",
        "partners:api_tokens",
        "partners:invitations",
    }
    ib_pages = {"ib:partners", "ib:periods", "ib:unpriced", "ib:fraud", "ib:disputes"}
    ib_pages |= {"ib:withheld", "ib:links", "ib:applications", "ib:agreements", "ib:plans"}
    assert ib_pages <= url_names(hooks.NAV_BACKOFFICE)
    assert {
        "compliance:lists",
        "compliance:screening",
        "compliance:alerts",
        "compliance:workspace",
        "compliance:cases",
        "compliance:jurisdictions",
    } <= url_names(hooks.NAV_BACKOFFICE)
    assert "kyc_review:sof_queue" in url_names(hooks.NAV_BACKOFFICE)
    assert {"compliance:leverage_limits", "compliance:category_requests"} <= url_names(
        hooks.NAV_BACKOFFICE
    )
    assert {
        "compliance:reviews",
        "compliance:country_risks",
        "compliance:access_log",
        "compliance:dossiers",
        "compliance:aml_alerts",
        "compliance:aml_scenarios",
        "clients:terms",
    } <= url_names(hooks.NAV_BACKOFFICE)
