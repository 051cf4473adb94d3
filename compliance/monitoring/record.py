"""Hits become alerts: the one place real time and the nightly batch write what they found.

A hit whose evidence the client's alerts of the scenario already hold (open or closed) is
nothing new and writes nothing (a closed alert is not raised again by the same rows). A hit
with new evidence joins the client's open alert of the scenario (score and action raised when
higher, window widened, the evidence added); with none open, a hit whose window overlaps the
window of the client's latest closed alert of the scenario is that alert's episode going on:
the alert is reopened with the new evidence (the officer sees it again, one alert, not a
second one for the same window); otherwise the hit opens a new alert with the client's
snapshot, the version and a copy of its parameters. Each alert raised or given evidence is an audit
event in the caller's transaction. The writes are batched: a few statements per scenario
however many hits (the nightly batch meets hundreds at once).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerage.services import audit_record_many
from clients.models import Client

from . import audit_events
from .explain import evidence_line, explain
from .models import (
    OPEN_STATUSES,
    Alert,
    AlertAction,
    AlertEvidence,
    AlertSource,
    AlertStatus,
    ScenarioVersion,
)
from .typologies import Hit

MONITORING_ACTOR = "rule:aml_monitoring"


def snapshots(client_ids: list[int]) -> dict[int, dict]:
    """Each client's profile, declared finances and risk as they are now (two queries)."""
    from kyc.models import FinancialProfile

    clients = Client.objects.filter(pk__in=client_ids).select_related("user")
    profiles: dict[int, FinancialProfile] = {}
    for fp in FinancialProfile.objects.filter(client_id__in=client_ids).order_by(
        "client_id", "-version"
    ):
        profiles.setdefault(fp.client_id, fp)
    out = {}
    for c in clients:
        fp = profiles.get(c.pk)
        out[c.pk] = {
            "name": c.legal_name or c.user.get_full_name(),
            "email": c.user.email,
            "country": c.country,
            "nationality": c.nationality,
            "status": c.status,
            "category": c.category,
            "kyc_level": c.kyc_level,
            "registered_at": c.created_at.isoformat(),
            "first_deposit_at": c.first_deposit_at.isoformat() if c.first_deposit_at else None,
            "risk_rating": c.risk_rating,
            "risk_score": c.risk_score,
            "risk_rated_at": c.risk_rated_at.isoformat() if c.risk_rated_at else None,
            "enhanced_due_diligence": c.enhanced_due_diligence,
            "financial_profile": None
            if fp is None
            else {
                "version": fp.version,
                "currency": fp.currency,
                "annual_income": fp.get_annual_income_display(),
                "net_worth": fp.get_net_worth_display(),
                "expected_deposits_amount": str(fp.expected_deposits_amount),
                "employment_status": fp.get_employment_status_display(),
                "source_of_funds": fp.get_source_of_funds_display(),
                "declared_at": fp.declared_at.isoformat(),
            },
        }
    return out


def _at(value) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _evidence_rows(alert: Alert, evidence: list[dict]) -> list[AlertEvidence]:
    return [
        AlertEvidence(
            alert=alert,
            kind=e["kind"],
            object_id=e["id"],
            occurred_at=_at(e["at"]),
            amount_usd=None if e.get("usd") is None else Decimal(str(e["usd"])),
            detail=evidence_line(e)[:1000],
        )
        for e in evidence
    ]


def _stronger(a: str, b: str) -> str:
    return AlertAction.HOLD if AlertAction.HOLD in (a, b) else AlertAction.ALERT


def record_hits(
    version: ScenarioVersion, hits: list[Hit], *, source: str = AlertSource.REALTIME
) -> list[Alert]:
    """Write `hits` of `version` as alerts (see the module's contract); the alerts raised or
    given evidence are returned. In the caller's transaction."""
    hits = [h for h in hits if version.action_for(h.score) is not None]
    if not hits:
        return []
    scenario = version.scenario
    ids = sorted({h.client_id for h in hits})
    known = set(
        AlertEvidence.objects.filter(
            alert__scenario=scenario, alert__client_id__in=ids
        ).values_list("alert__client_id", "kind", "object_id")
    )
    fresh = []
    for hit in hits:
        new = [e for e in hit.evidence if (hit.client_id, e["kind"], e["id"]) not in known]
        # Evidence repeated within one hit (a row both sides name) is added once.
        seen, unique = set(), []
        for e in new:
            if (e["kind"], e["id"]) not in seen:
                seen.add((e["kind"], e["id"]))
                unique.append(e)
        if unique or not hit.evidence:
            fresh.append((hit, unique))
    if not fresh:
        return []
    open_alerts = {
        a.client_id: a
        for a in Alert.objects.select_for_update().filter(
            scenario=scenario,
            client_id__in=[h.client_id for h, _ in fresh],
            status__in=OPEN_STATUSES,
        )
    }
    now = timezone.now()
    touched, raised, grown, reopened = [], [], [], []
    unopened = [h.client_id for h, _ in fresh if h.client_id not in open_alerts]
    closed = _latest_closed(scenario, unopened)
    snaps = snapshots(unopened)
    for hit, evidence in fresh:
        action = version.action_for(hit.score)
        text = explain(scenario.code, hit, version.params)
        alert = open_alerts.get(hit.client_id)
        earlier = closed.get(hit.client_id)
        if alert is None and earlier is not None and _overlaps(earlier, hit):
            alert = _reopen(earlier, hit, action, text, now)
            if alert is earlier:
                reopened.append((alert, hit, evidence))
            else:  # another run opened one meanwhile: join it
                grown.append((alert, hit, evidence))
            open_alerts[hit.client_id] = alert
        elif alert is None:
            alert = Alert(
                client_id=hit.client_id,
                scenario=scenario,
                scenario_version=version,
                score=hit.score,
                action=action,
                explanation=text,
                window_start=hit.window_start,
                window_end=hit.window_end,
                first_seen_at=now,
                last_seen_at=now,
                snapshot=snaps.get(hit.client_id, {}),
                params=version.params,
                source=source,
            )
            try:
                with transaction.atomic():
                    alert.save()
            except IntegrityError:  # another run opened it meanwhile: join it
                alert = Alert.objects.select_for_update().get(
                    scenario=scenario, client_id=hit.client_id, status__in=OPEN_STATUSES
                )
                _grow(alert, hit, action, text, now)
                grown.append((alert, hit, evidence))
            else:
                raised.append((alert, hit, evidence))
        else:
            _grow(alert, hit, action, text, now)
            grown.append((alert, hit, evidence))
        touched.append((alert, evidence))
    AlertEvidence.objects.bulk_create(
        [row for alert, evidence in touched for row in _evidence_rows(alert, evidence)],
        ignore_conflicts=True,
    )
    if grown:
        Alert.objects.bulk_update(
            [a for a, _, _ in grown],
            ["score", "action", "window_start", "window_end", "last_seen_at", "explanation"],
        )
    _audit(raised, grown, version, reopened)
    return [a for a, _ in touched]


def _latest_closed(scenario, client_ids: list[int]) -> dict[int, Alert]:
    """Each client's closed alert of the scenario with the latest window (locked)."""
    if not client_ids:
        return {}
    latest: dict[int, Alert] = {}
    for alert in (
        Alert.objects.select_for_update()
        .filter(scenario=scenario, client_id__in=client_ids, status=AlertStatus.CLOSED)
        .order_by("client_id", "-window_end", "-pk")
    ):
        latest.setdefault(alert.client_id, alert)
    return latest


def _overlaps(alert: Alert, hit: Hit) -> bool:
    return hit.window_start <= alert.window_end and hit.window_end >= alert.window_start


def _reopen(alert: Alert, hit: Hit, action: str, text: str, now) -> Alert:
    """The closed `alert` open again with the hit's figures (its closing stays in its history,
    `closings`, marked reopened now, and on the reopening's event); the client's open alert of
    the scenario instead if another run opened one meanwhile."""
    alert.reopened_from = {
        "closed_reason": alert.closed_reason,
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
        "closed_by": alert.closed_by_id,
    }
    closings = [dict(c) for c in alert.closings]
    if closings and closings[-1].get("reopened_at") is None:
        closings[-1]["reopened_at"] = now.isoformat()
    alert.closings = closings
    alert.status = AlertStatus.OPEN
    alert.closed_reason, alert.closed_at, alert.closed_by = "", None, None
    _grow(alert, hit, action, text, now)
    try:
        with transaction.atomic():
            alert.save(
                update_fields=[
                    "status",
                    "closed_reason",
                    "closed_at",
                    "closed_by",
                    "closings",
                    "score",
                    "action",
                    "window_start",
                    "window_end",
                    "last_seen_at",
                    "explanation",
                ]
            )
    except IntegrityError:
        joined = Alert.objects.select_for_update().get(
            scenario=alert.scenario_id, client_id=alert.client_id, status__in=OPEN_STATUSES
        )
        _grow(joined, hit, action, text, now)
        return joined
    return alert


def _grow(alert: Alert, hit: Hit, action: str, text: str, now) -> None:
    if hit.score > alert.score:
        alert.score = hit.score
        alert.explanation = text
    alert.action = _stronger(alert.action, action)
    alert.window_start = min(alert.window_start, hit.window_start)
    alert.window_end = max(alert.window_end, hit.window_end)
    alert.last_seen_at = now


def _audit(raised, grown, version: ScenarioVersion, reopened=()) -> None:
    def evidence(alert, hit, rows):
        return {
            "scenario": version.scenario.code,
            "version": version.number,
            "score": hit.score,
            "action": alert.action,
            "evidence": [f"{e['kind']}:{e['id']}" for e in rows][:50],
            **({"closed_before": alert.reopened_from} if hasattr(alert, "reopened_from") else {}),
        }

    for action, items in (
        (audit_events.ALERT_RAISED, raised),
        (audit_events.ALERT_EVIDENCE_ADDED, grown),
        (audit_events.ALERT_REOPENED, reopened),
    ):
        audit_record_many(
            actor=MONITORING_ACTOR,
            action=action,
            entries=[(a, a.explanation, evidence(a, hit, rows)) for a, hit, rows in items],
        )
