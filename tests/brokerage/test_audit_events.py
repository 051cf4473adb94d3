"""Audit event codes come from one catalogue per app, with labels; made-up codes are refused."""

import ast
from pathlib import Path

import pytest

from brokerage import events
from brokerage.audit import audit_record
from brokerage.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = ["brokerage", "clients", "leads", "kyc", "finance", "ib", "compliance", "demo"]


def test_a_code_no_catalogue_declares_is_refused_before_anything_is_written(db):
    with pytest.raises(ValueError, match="Unknown audit event code 'deposit.creatd'"):
        audit_record(actor="rule:test", action="deposit.creatd")
    assert not AuditEvent.objects.filter(action="deposit.creatd").exists()


def test_a_code_belongs_to_one_app():
    events.load_all()
    with pytest.raises(ValueError, match="already declared by finance"):
        events.catalogue("leads")("deposit.created", "Deposit created")


def test_product_code_writes_codes_from_the_catalogues_never_literal_strings():
    """`action=` of audit_record(_many) is a catalogue constant (or a name bound to one)."""
    literal = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "audit_events.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", "").startswith("audit_record")
                ):
                    continue
                for kw in node.keywords:
                    if kw.arg == "action" and isinstance(kw.value, ast.Constant | ast.JoinedStr):
                        literal.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not literal, literal


def test_every_declared_code_has_a_label_staff_can_read():
    events.load_all()
    product = {c: label for c, label in events.choices() if events._owners[c] in APPS}
    assert len(product) > 80
    for code, label in product.items():
        assert label and label[0].isupper() and "_" not in label, code


def test_the_audit_log_shows_labels(db, client):
    from brokerage.services import staff_user_upsert
    from tests.conftest import login, make_staff

    officer = make_staff("compliance_officer")
    staff_user_upsert(actor=officer, email="new@test.example", role="sales_agent")
    login(client, officer)
    page = client.get("/backoffice/audit/").content.decode()
    assert "Staff created" in page and '<option value="staff.created">Staff created' in page
