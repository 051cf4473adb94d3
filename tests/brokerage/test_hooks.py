import pytest

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
