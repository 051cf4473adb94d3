"""Roles grant only permissions something checks."""

import re
from pathlib import Path

import pytest
from django.apps import apps

from brokerage.roles import ROLES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VERBS = ("view", "add", "change", "delete")
PRODUCT = ("brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance", "demo")


def _model_default(perm: str) -> bool:
    """A model's default permission: Django admin checks it."""
    app_label, codename = perm.split(".", 1)
    verb, _, model = codename.partition("_")
    if verb not in DEFAULT_VERBS:
        return False
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True


def _product_source() -> str:
    """The product's code and templates (migrations and the role table itself aside)."""
    paths = [p for top in (*PRODUCT, "templates") for p in (ROOT / top).rglob("*")]
    return "\n".join(
        p.read_text()
        for p in paths
        if p.suffix in (".py", ".html")
        and "migrations" not in p.parts
        and p != ROOT / "brokerage" / "roles.py"
    )


def test_every_permission_a_role_grants_is_checked_somewhere():
    source = _product_source()
    unchecked = set()
    for role in ROLES.values():
        for perm in role.permissions:
            app_label, codename = perm.split(".", 1)
            used = perm in source or re.search(rf"perms\.{app_label}\.{codename}\b", source)
            if not (used or _model_default(perm)):
                unchecked.add(f"{role.slug}: {perm}")
    assert not unchecked, f"granted, never checked: {sorted(unchecked)}"


@pytest.mark.django_db
def test_a_service_check_lets_a_holder_or_a_named_rule_decide_and_no_one_else():
    from brokerage.errors import NotAllowed
    from brokerage.permissions import actor_require
    from tests.conftest import make_staff

    actor_require(make_staff("compliance_officer"), "kyc.review_kyc", "no")
    actor_require("rule:kyc_autocheck", "kyc.review_kyc", "no")
    for actor in (make_staff("sales_agent"), ""):
        with pytest.raises(NotAllowed, match="Only compliance officers"):
            actor_require(actor, "kyc.review_kyc", "Only compliance officers review KYC.")
