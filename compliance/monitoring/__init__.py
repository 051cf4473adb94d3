"""AML transaction monitoring (issue 16): scenarios with versioned parameters and scores, the
ten typologies, alerts with their evidence, evaluated in real time after money moves and in a
nightly set-based batch over the whole book, and backtests of a draft version.

Entry points (what the rest of the product, the benchmark and the cases call):
- `evaluate_transaction(kind, pk) -> list[Alert]`: one money row just committed.
- `run_nightly(*, as_of=None) -> dict`: every live scenario over the book.
- `backtest(version, *, days) -> dict`: a version over the last `days` days, writing nothing.

This package is also the Django app `aml` (its models: `compliance.monitoring.models`); the
entry points are loaded on first use, since an app's package is imported before models are.
"""

from importlib import import_module

_ENTRY_POINTS = {
    "evaluate_transaction": "realtime",
    "run_nightly": "nightly",
    "backtest": "nightly",
}


def __getattr__(name):
    if name in _ENTRY_POINTS:
        return getattr(import_module(f"{__name__}.{_ENTRY_POINTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
