"""The catalogue of audit event codes: every code an app writes, declared once with the label
staff read, in the app's own `audit_events.py`.

    # finance/audit_events.py
    from brokerage.events import catalogue

    event = catalogue("finance")
    DEPOSIT_CREATED = event("deposit.created", "Deposit created")

Services write `audit_record(action=audit_events.DEPOSIT_CREATED, ...)`; `audit_record` refuses
a code that no catalogue declares, so a misspelt or made-up code fails where it is written
instead of leaving a trail nobody can filter. A code belongs to one app: the lowest app that
writes it; apps above use the lower app's constant.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

_labels: dict[str, str] = {}
_owners: dict[str, str] = {}
_loaded = False


def catalogue(app: str):
    """The declaring function for `app`'s codes: `event(code, label) -> code`."""

    def event(code: str, label: str) -> str:
        if _owners.get(code, app) != app:
            raise ValueError(f"Audit event {code!r} is already declared by {_owners[code]}.")
        _labels[code], _owners[code] = label, app
        return code

    return event


def load_all() -> None:
    """Import every installed app's `audit_events` (the labels of codes not written yet)."""
    global _loaded
    if _loaded:
        return
    from django.apps import apps

    for app_config in apps.get_app_configs():
        module = f"{app_config.name}.audit_events"
        if find_spec(module) is not None:
            import_module(module)
    _loaded = True


def check(code: str) -> None:
    if code not in _labels:
        load_all()
        if code not in _labels:
            raise ValueError(
                f"Unknown audit event code {code!r}: declare it in the writing app's "
                "audit_events.py."
            )


def label(code: str) -> str:
    """What staff read for `code`; for an event no catalogue knows any more, the code in words
    ("refund_succeeded" -> "Refund succeeded"), never the raw code."""
    load_all()
    known = _labels.get(code)
    if known is not None:
        return known
    words = " ".join(str(code).replace("_", " ").replace(".", " ").split())
    return words[:1].upper() + words[1:] if words else "—"


def choices(codes=None) -> list[tuple[str, str]]:
    """(code, label) for `codes` (every declared code if None), by label."""
    load_all()
    codes = _labels if codes is None else codes
    return sorted(((c, label(c)) for c in codes), key=lambda c: c[1].lower())
