"""Writes and reads on what a client declares about their money: the financial profile (a new
version at each change, never edited) and the source-of-funds documents compliance reviews.

Services take keyword arguments and an explicit `actor`, write the audit event in their
transaction and tell compliance (through `clients.services.client_risk_factor_changed`) that
something the client's risk rating reads changed. A document's decision reaches the client by
email, in their language, and in their communication history (`clients.notify`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.money import format_money
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record
from brokerage.statements import Statement
from brokerage.uploads import check_upload
from clients.locks import lock_client
from clients.models import Client
from clients.notify import client_notify
from clients.services import client_risk_factor_changed

from . import audit_events
from .models import (
    Band,
    Employment,
    FinancialProfile,
    FundsSource,
    Industry,
    ProfileCurrency,
    SourceOfFundsDocument,
)

PROFILE_FIELDS = (
    "employment_status",
    "occupation",
    "industry",
    "currency",
    "annual_income",
    "net_worth",
    "expected_deposits_amount",
    "source_of_funds",
    "source_of_funds_detail",
    "source_of_wealth",
    "source_of_wealth_detail",
)
CHOICES = {
    "employment_status": Employment,
    "industry": Industry,
    "currency": ProfileCurrency,
    "annual_income": Band,
    "net_worth": Band,
    "source_of_funds": FundsSource,
    "source_of_wealth": FundsSource,
}
EXPECTED_DEPOSITS_MAX = Decimal("1000000000")


def financial_profile_current(client) -> FinancialProfile | None:
    return FinancialProfile.objects.filter(client=client).order_by("-version").first()


HISTORY_LIMIT = 6  # the five last changes, each against the version before it
_HISTORY = Statement(
    lambda v: (
        FinancialProfile.objects.filter(client_id=v.client_id)
        .select_related("declared_by")
        .order_by("-version")[:HISTORY_LIMIT]
    )
)


def financial_profile_history(client) -> list[FinancialProfile]:
    """The client's latest versions, newest first (compiled once, brokerage.statements)."""
    return _HISTORY(client_id=client.pk)


def profile_changes(profile: FinancialProfile, before: FinancialProfile | None) -> list[dict]:
    """What a version changed against the one before, in words: [{field, from, to}]."""
    if before is None:
        return []
    changes = []
    for field in PROFILE_FIELDS:
        old, new = getattr(before, field), getattr(profile, field)
        if old != new:
            label = FinancialProfile._meta.get_field(field).verbose_name
            changes.append(
                {
                    "field": str(label).capitalize(),
                    "from": _shown(before, field),
                    "to": _shown(profile, field),
                }
            )
    return changes


def _shown(profile: FinancialProfile, field: str) -> str:
    if field in CHOICES:
        return getattr(profile, f"get_{field}_display")()
    if field == "expected_deposits_amount":
        return format_money(profile.expected_deposits_amount, profile.currency)
    return getattr(profile, field) or "—"


def _clean(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    clean = {}
    for field, choices in CHOICES.items():
        value = data.get(field) or ""
        if value not in choices.values:
            errors[field] = ["Choose one of the options."]
        clean[field] = value
    for field in ("occupation", "source_of_funds_detail", "source_of_wealth_detail"):
        clean[field] = " ".join(str(data.get(field) or "").split())[
            : FinancialProfile._meta.get_field(field).max_length
        ]
    if (
        clean["employment_status"] in (Employment.EMPLOYED, Employment.SELF_EMPLOYED)
        and not (clean["occupation"])
    ):
        errors["occupation"] = ["Say what you do."]
    for field in ("source_of_funds", "source_of_wealth"):
        if clean[field] == FundsSource.OTHER and not clean[f"{field}_detail"]:
            errors[f"{field}_detail"] = ["Describe it, since you chose Other."]
    try:
        amount = Decimal(str(data.get("expected_deposits_amount", "")).replace(",", ""))
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["expected_deposits_amount"] = ["An amount, e.g. 5000."]
    else:
        if amount < 0 or amount > EXPECTED_DEPOSITS_MAX:
            errors["expected_deposits_amount"] = ["An amount from 0 to 1,000,000,000."]
        clean["expected_deposits_amount"] = amount.quantize(Decimal("0.01"))
    if errors:
        raise InvalidInput("Please correct your financial details below.", fields=errors)
    return clean


@transaction.atomic
def financial_profile_save(*, client: Client, actor: Actor, data: dict) -> FinancialProfile:
    """Record what the client declares: a new version when anything changed (the same answers
    again record nothing). Audited with the fields that changed; compliance rates the client
    again."""
    clean = _clean(data)
    client = lock_client(client)
    current = financial_profile_current(client)
    if current is not None and all(getattr(current, f) == clean[f] for f in PROFILE_FIELDS):
        return current
    profile = FinancialProfile.objects.create(
        client=client,
        version=(current.version + 1) if current else 1,
        declared_by=None if isinstance(actor, str) else actor,
        **clean,
    )
    changes = profile_changes(profile, current)
    audit_record(
        actor=actor,
        action=audit_events.FINANCIAL_PROFILE_DECLARED,
        target=client,
        evidence={
            "version": profile.version,
            "changes": changes,
            "profile": {f: str(clean[f]) for f in PROFILE_FIELDS},
        },
    )
    client_risk_factor_changed(client_id=client.pk, cause="financial profile declared")
    return profile


@transaction.atomic
def kyc_finances_step_save(*, submission, actor: Actor, data: dict) -> FinancialProfile:
    """The wizard's finances step: the profile, then the documents step next."""
    from .models import KycSubmission

    profile = financial_profile_save(client=submission.client, actor=actor, data=data)
    KycSubmission.objects.filter(pk=submission.pk, step="finances").update(step="documents")
    return profile


# --- Source-of-funds documents ---------------------------------------------------------------


@transaction.atomic
def sof_document_upload(
    *, client: Client, actor: Actor, description: str, uploaded_file
) -> SourceOfFundsDocument:
    """Check and store a source-of-funds document privately, waiting for compliance's review.
    Nothing is stored if the file is refused."""
    description = " ".join((description or "").split())
    if not description:
        raise InvalidInput(
            "Say what the document shows.", fields={"description": ["E.g. payslips for May."]}
        )
    checked = check_upload(uploaded_file)
    client = lock_client(client)
    document = SourceOfFundsDocument(
        client=client,
        description=description[:300],
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
    )
    document.file.save(f"upload.{checked.extension}", ContentFile(checked.data), save=False)
    document.save()
    audit_record(
        actor=actor,
        action=audit_events.SOF_DOCUMENT_UPLOADED,
        target=document,
        subject=client,
        evidence={
            "sha256": checked.sha256,
            "type": checked.content_type,
            "size": len(checked.data),
        },
    )
    return document


def _officer(actor) -> None:
    actor_require(
        actor, "kyc.review_kyc", "Only compliance officers review source-of-funds documents."
    )


def _lock_document(document: SourceOfFundsDocument) -> SourceOfFundsDocument:
    document = SourceOfFundsDocument.objects.select_for_update().get(pk=document.pk)
    if document.status != SourceOfFundsDocument.Status.IN_REVIEW:
        raise InvalidInput(
            f"This document was already decided ({document.get_status_display().lower()}).",
            code="already_decided",
        )
    return document


@transaction.atomic
def sof_document_approve(
    *, document: SourceOfFundsDocument, actor, reason: str
) -> SourceOfFundsDocument:
    _officer(actor)
    return _decide(document, actor, reason, approve=True)


@transaction.atomic
def sof_document_reject(
    *, document: SourceOfFundsDocument, actor, reason: str
) -> SourceOfFundsDocument:
    _officer(actor)
    return _decide(document, actor, reason, approve=False)


def _decide(document, actor, reason: str, *, approve: bool) -> SourceOfFundsDocument:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Give the reason for the decision.", fields={"reason": ["Required."]})
    document = _lock_document(document)
    document.approve() if approve else document.reject()
    document.decided_at, document.decided_by = timezone.now(), actor
    document.decision_reason = reason
    document.save()
    audit_record(
        actor=actor,
        action=audit_events.SOF_DOCUMENT_APPROVED
        if approve
        else audit_events.SOF_DOCUMENT_REJECTED,
        target=document,
        subject=document.client,
        reason=reason,
    )
    client_notify(
        document.client,
        email="sof_approved" if approve else "sof_rejected",
        key=f"kyc:sof:{document.pk}:{document.status}",
        actor=actor,
        url_name="kyc:finances",
        context={"description": document.description, "reason": reason},
        data={"source_of_funds_document": document.pk},
    )
    client_risk_factor_changed(
        client_id=document.client_id, cause="source-of-funds document decided"
    )
    return document
