"""/api/v1/leads/: landing pages and affiliates post leads; read one back with its routing."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from brokerage.api import idempotent

from .models import Channel, Lead
from .services import lead_capture
from .validation import clean_lead_input

router = Router(tags=["leads"])
MAX_BODY = 16 * 1024


class LeadIn(Schema):
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    country: str | None = Field(None, description="ISO 3166-1 alpha-2, e.g. AE")
    language: str | None = Field(None, description="ISO 639-1, e.g. ar")
    experience: Literal["none", "some", "experienced"] | None = None
    net_worth_usd: Decimal | None = Field(None, ge=0)
    annual_income_usd: Decimal | None = Field(None, ge=0)
    source: str | None = Field(None, max_length=60)
    utm_source: str | None = Field(None, max_length=100)
    utm_medium: str | None = Field(None, max_length=100)
    utm_campaign: str | None = Field(None, max_length=100)
    referral_code: str | None = Field(
        None, max_length=32, description="An IB's code: credits a lead this integration sent"
    )

    model_config = {"extra": "forbid"}


class LeadWarning(Schema):
    field: str
    code: str
    detail: str


class LeadCreated(Schema):
    id: int | None
    status: str
    score: int
    warnings: list[LeadWarning] = Field(
        default_factory=list,
        description="The lead was accepted, but something in it was not usable (e.g. "
        "`phone_invalid`: the number is kept out and the lead scored without it).",
    )


class ScorePart(Schema):
    rule: str
    points: int
    why: str
    value: str


class LeadOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    phone_valid: bool
    phone_invalid_reason: str
    country: str
    language: str
    experience: str
    status: str
    score: int
    score_breakdown: list[ScorePart]
    desk: str | None
    assigned_to: str | None
    nurture_sequence: str | None
    created_at: datetime
    assigned_at: datetime | None


class Error(Schema):
    error: str
    detail: str
    fields: dict


@router.post(
    "/",
    response={201: LeadCreated, 200: LeadCreated, 413: Error, 422: Error},
    summary="Capture a lead",
)
@idempotent
def create_lead(request: HttpRequest, payload: LeadIn):
    """Score the lead and queue it for routing. A phone number that is not valid does not
    refuse the lead: it is accepted without the number, with a `phone_invalid` warning, and
    scored as such (unless it was the only way to reach the person: then 422). A person
    already known (same email or phone) is not created twice: status 200, naming the lead if
    this integration sent it first, or
    `{"id": null, "status": "duplicate"}` if anyone else did (another integration, a portal
    sign-up, an import). Only the integration that sent a lead fills in its blank details or
    credits it with a `referral_code`, and never over a credit it already has. Needs the
    `leads:write` scope.

    Send an `Idempotency-Key` header to make retries safe: a repeat returns the first answer.
    """
    if "leads:write" not in request.api_key.scopes:
        raise HttpError(403, "This API key may not send leads (it lacks the leads:write scope).")
    if len(request.body) > MAX_BODY:
        raise HttpError(413, f"A lead is at most {MAX_BODY} bytes.")
    data = clean_lead_input(
        payload.model_dump(exclude_none=True, mode="json"), keep_invalid_phone=True
    )
    warnings = []
    if data["phone_invalid_reason"]:
        warnings.append(
            {
                "field": "phone",
                "code": "phone_invalid",
                "detail": "Accepted without the phone number: " + data["phone_invalid_reason"],
            }
        )
    lead, created = lead_capture(
        data=data,
        channel=Channel.API,
        actor=f"integration:{request.api_key.name}",
        request=request,
        api_key=request.api_key,
    )
    if not created and lead.api_key_id != request.api_key.pk:
        # Someone else's lead: acknowledge the touch, reveal nothing about the lead.
        return Status(200, {"id": None, "status": "duplicate", "score": 0, "warnings": warnings})
    return Status(
        201 if created else 200,
        {"id": lead.pk, "status": lead.status, "score": lead.score, "warnings": warnings},
    )


@router.get("/{lead_id}/", response={200: LeadOut, 404: Error}, summary="A lead and its routing")
def get_lead(request: HttpRequest, lead_id: int):
    """Leads this integration sent (keys with the `leads:read_all` scope: any lead)."""
    lead = (
        Lead.objects.select_related("desk", "assigned_to", "nurture__sequence")
        .filter(pk=lead_id)
        .first()
    )
    key = request.api_key
    if lead is None or (lead.api_key_id != key.pk and "leads:read_all" not in key.scopes):
        raise HttpError(404, "No lead with that id sent by this integration.")
    nurture = getattr(lead, "nurture", None)
    return Status(
        200,
        {
            **{
                f: getattr(lead, f)
                for f in (
                    "id",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "phone_valid",
                    "phone_invalid_reason",
                    "country",
                    "language",
                    "experience",
                    "status",
                    "score",
                    "score_breakdown",
                    "created_at",
                    "assigned_at",
                )
            },
            "desk": lead.desk.name if lead.desk else None,
            "assigned_to": lead.assigned_to.email if lead.assigned_to else None,
            "nurture_sequence": nurture.sequence.name if nurture else None,
        },
    )
