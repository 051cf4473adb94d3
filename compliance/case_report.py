"""The draft suspicious activity report of a case, for the officer to check and file with the
authority (the filing itself is recorded by `cases.case_report`).

`case_report_draft(case=..., actor=..., fmt="json" | "pdf")` gathers, for the case's client,
the subject (who they are, as registered and as given at KYC), their trading accounts, every
deposit, withdrawal, transfer, refund and chargeback and every deal in the period (from
COMPLIANCE_CASE_REPORT_DAYS before the case opened, or the earliest alert's window, to now;
amounts exact, as strings, with their currency; times UTC), the alerts the case groups with
their explanations, a narrative drafted from the case (its summary, the alerts, the
escalation and the officers' notes, for the officer to rewrite) and the officer; then returns
it as JSON or as a PDF (WeasyPrint). Each draft is audited with its SHA-256, so the trail says
who drew which report when.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from brokerage.services import audit_record
from clients.models import Deal, TradingAccount
from finance.models import Chargeback, Deposit, Refund, Transfer, Withdrawal

from . import audit_events
from .cases import _officer
from .models import Case
from .selectors import subject_details

FORMATS = ("json", "pdf")
MAX_DEALS = 5000


def _money(amount, currency) -> dict:
    return {"amount": str(amount), "currency": currency}


def _t(value) -> str | None:
    return value.isoformat() if value else None


def _period_start(case: Case, aml_alerts) -> timezone.datetime:
    start = case.opened_at - timedelta(days=settings.COMPLIANCE_CASE_REPORT_DAYS)
    for alert in aml_alerts:
        start = min(start, alert.window_start)
    return start


def _aml_alerts(case: Case) -> list:
    return list(case.aml_alerts.select_related("scenario").order_by("first_seen_at", "pk"))


def report_data(case: Case, *, officer) -> dict:
    client = case.client
    aml_alerts = _aml_alerts(case)
    since, until = _period_start(case, aml_alerts), timezone.now()
    subject = subject_details(client)
    transactions = []
    for d in Deposit.objects.filter(client=client, created_at__gte=since).select_related(
        "instrument"
    ):
        transactions.append(
            {
                "kind": "deposit",
                "reference": d.reference,
                "at": _t(d.completed_at or d.created_at),
                "status": d.status,
                **_money(d.amount, d.currency),
                "psp": d.psp,
                "psp_reference": d.provider_reference,
                "payer": d.instrument.holder_name if d.instrument else "",
                "payer_country": d.instrument.country if d.instrument else "",
            }
        )
    for w in Withdrawal.objects.filter(client=client, requested_at__gte=since):
        transactions.append(
            {
                "kind": "withdrawal",
                "reference": w.reference,
                "at": _t(w.completed_at or w.requested_at),
                "status": w.status,
                **_money(w.amount, w.currency),
                "psp": w.psp,
                "psp_reference": w.provider_reference,
            }
        )
    for t in Transfer.objects.filter(client=client, requested_at__gte=since).select_related(
        "trading_account"
    ):
        transactions.append(
            {
                "kind": "transfer",
                "reference": t.comment,
                "at": _t(t.completed_at or t.requested_at),
                "status": t.status,
                **_money(t.amount, t.currency),
                "direction": t.direction,
                "account": t.trading_account.login,
            }
        )
    for r in Refund.objects.filter(deposit__client=client, created_at__gte=since).select_related(
        "deposit"
    ):
        transactions.append(
            {
                "kind": "refund",
                "reference": r.reference,
                "at": _t(r.completed_at or r.created_at),
                "status": r.status,
                **_money(r.amount, r.currency),
                "deposit": r.deposit.reference,
                "reason": r.reason,
            }
        )
    for c in Chargeback.objects.filter(deposit__client=client, opened_at__gte=since).select_related(
        "deposit"
    ):
        transactions.append(
            {
                "kind": "chargeback",
                "reference": c.provider_reference,
                "at": _t(c.opened_at),
                "status": c.status,
                **_money(c.amount, c.currency),
                "deposit": c.deposit.reference,
                "reason": c.reason,
            }
        )
    transactions.sort(key=lambda row: (row["at"] or "", row["kind"]))
    deals = Deal.objects.filter(  # trades; balance operations are the transactions above
        client=client,
        time__gte=since,
        removed_at__isnull=True,
        action__in=[Deal.Action.BUY, Deal.Action.SELL],
    )
    deal_count = deals.count()
    deal_rows = [
        {
            "ticket": d["ticket"],
            "account": d["account__login"],
            "at": _t(d["time"]),
            "action": Deal.Action(d["action"]).label,
            "entry": dict(Deal.Entry.choices).get(d["entry"], f"Entry {d['entry']}"),
            "symbol": d["symbol"],
            "lots": str(Decimal(d["volume"]) / 10000),
            "price": str(d["price"]),
            "profit": _money(d["profit_amount"], d["account__currency"]),
        }
        for d in deals.order_by("time", "ticket").values(
            "ticket",
            "account__login",
            "account__currency",
            "time",
            "action",
            "entry",
            "symbol",
            "volume",
            "price",
            "profit_amount",
        )[:MAX_DEALS]
    ]
    accounts = [
        {
            "login": a.login,
            "server": a.server.name,
            "currency": a.currency,
            "leverage": a.leverage,
            "status": a.status,
            "opened_at": _t(a.opened_at),
            "balance": _money(a.balance_amount, a.currency),
        }
        for a in TradingAccount.objects.filter(client=client).select_related("server")
    ]
    alerts = [
        {
            "kind": "screening",
            "id": a.pk,
            "raised_at": _t(a.created_at),
            "list": a.source.name,
            "entry": a.list_id,
            "matched_name": a.matched_name,
            "score": str(a.score),
            "status": a.status,
        }
        for a in case.screening_alerts.select_related("source").order_by("created_at")
    ] + [
        {
            "kind": "monitoring",
            "id": a.pk,
            "raised_at": _t(a.first_seen_at),
            "scenario": a.scenario.name,
            "score": a.score,
            "explanation": a.explanation,
            "window": [_t(a.window_start), _t(a.window_end)],
            "status": a.status,
        }
        for a in aml_alerts
    ]
    notes = list(case.notes.select_related("author").order_by("created_at", "pk"))
    narrative = _narrative(case, subject, alerts, notes, transactions, since)
    return {
        "report": "Suspicious activity report (draft)",
        "case": case.reference,
        "case_status": case.status,
        "generated_at": _t(until),
        "period": {"from": _t(since), "to": _t(until)},
        "subject": {
            "client_id": client.pk,
            "name": subject["name"],
            "legal_name": subject["legal_name"],
            "name_at_kyc": subject["kyc_name"],
            "date_of_birth": _t(subject["dob"]),
            "nationality": subject["nationality"],
            "country_of_residence": client.country,
            "email": subject["email"],
            "phone": client.phone,
            "registered_at": _t(client.created_at),
            "risk_rating": client.risk_rating,
            "identity_documents": subject["documents"],
        },
        "accounts": accounts,
        "transactions": transactions,
        "deals": deal_rows,
        "deal_count": deal_count,
        "deals_shown": len(deal_rows),
        "alerts": alerts,
        "narrative": narrative,
        "officer": {
            "name": officer.get_full_name() or officer.email,
            "email": officer.email,
            "assigned_to": case.assigned_to.email if case.assigned_to else "",
            "escalated_by": case.escalated_by.email if case.escalated_by else "",
        },
        "filed": {
            "reference": case.sar_reference,
            "filed_on": _t(case.sar_filed_on),
        },
    }


def _narrative(case, subject, alerts, notes, transactions, since) -> str:
    name = subject["name"] or subject["email"]
    paragraphs = [
        f"{case.reference} was opened on {case.opened_at:%Y-%m-%d} about {name} "
        f"(client {case.client_id}): {case.summary}"
    ]
    for alert in alerts:
        if alert["kind"] == "screening":
            paragraphs.append(
                f"Screening alert {alert['id']}: the name met {alert['list']} entry "
                f"{alert['entry']} ({alert['matched_name']}) at a score of {alert['score']}."
            )
        else:
            paragraphs.append(f"{alert['scenario']} (alert {alert['id']}): {alert['explanation']}")
    counts: dict[str, int] = {}
    for row in transactions:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    if counts:
        listed = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items())
        paragraphs.append(f"Since {since:%Y-%m-%d} the client's records hold {listed}.")
    if case.escalation_reason:
        paragraphs.append(f"Escalated on {case.escalated_at:%Y-%m-%d}: {case.escalation_reason}")
    for note in notes:
        paragraphs.append(f"Note of {note.created_at:%Y-%m-%d}: {note.text}")
    return "\n\n".join(paragraphs)


@transaction.atomic
def case_report_draft(*, case: Case, actor, fmt: str) -> tuple[bytes, str]:
    """The draft report as (bytes, file name); audited with its SHA-256."""
    _officer(actor)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    case = Case.objects.select_related("client__user", "assigned_to", "escalated_by").get(
        pk=case.pk
    )
    data = report_data(case, officer=actor)
    body = _pdf(data) if fmt == "pdf" else json.dumps(data, ensure_ascii=False, indent=1).encode()
    name = f"{case.reference}-report-draft.{fmt}"
    audit_record(
        actor=actor,
        action=audit_events.CASE_REPORT_DRAFTED,
        target=case,
        subject=case.client,
        evidence={
            "case": case.reference,
            "format": fmt,
            "sha256": hashlib.sha256(body).hexdigest(),
            "transactions": len(data["transactions"]),
            "deals": data["deal_count"],
            "alerts": len(data["alerts"]),
        },
    )
    return body, name


def _pdf(data: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string("compliance/case_report_pdf.html", {"r": data})
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
