"""The nightly batch and backtests: every live scenario over the whole book, set-based.

Contract:
- `run_nightly(*, as_of=None) -> dict`: each live version's typology statement over the
  whole book at `as_of` (now by default), its hits written as alerts (`record`, source
  nightly) in one transaction per scenario; returns the counts per scenario and the seconds.
  The run itself is an audit event with those counts. Re-running it finds nothing new.
- `backtest(version, *, days, progress=None) -> dict`: the version over the last `days` days
  as nightly would have run it each night, writing nothing; beside it the live version over
  the same nights: how many alerts each would have raised (one per client, as an open alert
  gathers a client's later hits) and on whom, and how many would have held. Officers run it
  in the background (`services.version_backtest_request`, a `BacktestJob`).
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from time import perf_counter

from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.services import audit_record

from . import audit_events
from .models import AlertAction, AlertSource, ScenarioVersion, VersionStatus
from .record import MONITORING_ACTOR, record_hits
from .typologies import find

MAX_BACKTEST_DAYS = 90


def run_nightly(*, as_of=None) -> dict:
    as_of = as_of or timezone.now()
    started = perf_counter()
    scenarios = {}
    versions = ScenarioVersion.objects.filter(status=VersionStatus.LIVE).select_related("scenario")
    for version in versions.order_by("scenario_id"):
        t0 = perf_counter()
        hits = find(version.scenario.code, version.params, as_of=as_of)
        with transaction.atomic():
            alerts = record_hits(version, hits, source=AlertSource.NIGHTLY)
        scenarios[version.scenario.code] = {
            "hits": len(hits),
            "alerts": len(alerts),
            "seconds": round(perf_counter() - t0, 3),
        }
    result = {
        "as_of": as_of.isoformat(),
        "scenarios": scenarios,
        "seconds": round(perf_counter() - started, 3),
    }
    with transaction.atomic():
        audit_record(
            actor=MONITORING_ACTOR,
            action=audit_events.NIGHTLY_RUN,
            target=("aml.nightly", as_of.date().isoformat()),
            evidence=result,
        )
    return result


def _would(version: ScenarioVersion, nights: list, night_done) -> dict:
    clients: dict[int, int] = {}
    held: set[int] = set()
    for as_of in nights:
        for hit in find(version.scenario.code, version.params, as_of=as_of):
            action = version.action_for(hit.score)
            if action is None:
                continue
            clients[hit.client_id] = max(clients.get(hit.client_id, 0), hit.score)
            if action == AlertAction.HOLD:
                held.add(hit.client_id)
        night_done()
    return {
        "version": version.number,
        "alerts": len(clients),
        "holds": len(held),
        "clients": sorted(clients),
        # Keyed by the client's number as text, as the result is kept (JSON) on its job.
        "scores": {str(pk): score for pk, score in sorted(clients.items())},
    }


def backtest_days(days) -> int:
    """The number of days a backtest looks back, or a refusal naming the field."""
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise InvalidInput("Days: a whole number.", fields={"days": ["A whole number."]}) from None
    if not 1 <= days <= MAX_BACKTEST_DAYS:
        raise InvalidInput(
            f"Backtest over 1 to {MAX_BACKTEST_DAYS} days.",
            fields={"days": [f"From 1 to {MAX_BACKTEST_DAYS}."]},
        )
    return days


def backtest(version: ScenarioVersion, *, days: int, progress=None) -> dict:
    """`progress(done, total)`, if given, is called after each night replayed (the version's
    nights, then the live version's)."""
    days = backtest_days(days)
    started = perf_counter()
    now = timezone.now()
    nights = [now - timedelta(days=n) for n in range(days)]
    live = (
        ScenarioVersion.objects.filter(scenario_id=version.scenario_id, status=VersionStatus.LIVE)
        .select_related("scenario")
        .first()
    )
    beside = live if live and live.pk != version.pk else None
    total = len(nights) * (2 if beside else 1)
    replayed = count(1)

    def night_done():
        n = next(replayed)
        if progress is not None:
            progress(n, total)

    result = {"days": days, "version": _would(version, nights, night_done)}
    result["live"] = _would(beside, nights, night_done) if beside else None
    result["seconds"] = round(perf_counter() - started, 3)
    return result
