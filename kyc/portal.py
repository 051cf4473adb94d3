"""The client's identity check on the portal overview (hook `portal.overview`)."""

from django.urls import reverse

from brokerage.portal import NextStep, Notice, OverviewPart, ProfileCard, Tile

from .models import KycSubmission

State = KycSubmission.State
TONES = {
    State.APPROVED: "success",
    State.REJECTED: "danger",
    State.RESUBMISSION: "warning",
    State.IN_REVIEW: "info",
    State.SUBMITTED: "info",
}


def kyc_overview(client) -> OverviewPart:
    latest = client.kyc_submissions.order_by("-created_at").first()
    url = reverse("kyc:wizard")
    verified = client.kyc_level >= 1
    if latest is None or latest.state == State.DRAFT:
        state, tone = ("Verified", "success") if verified else ("Not started", "secondary")
    else:
        state, tone = latest.get_state_display(), TONES.get(latest.state, "secondary")
    lines = [("Level", str(client.kyc_level))]
    if client.kyc_verified_at:
        lines.append(("Verified on", f"{client.kyc_verified_at:%-d %b %Y}"))
    if client.id_document_expires_on:
        lines.append(("ID document valid until", f"{client.id_document_expires_on:%-d %b %Y}"))
    tile = Tile(
        "kyc",
        "Identity check",
        "person-vcard",
        lines=lines,
        state=state,
        tone=tone,
        url=url,
        link_text="Open",
        order=20,
    )
    steps = []
    waiting = latest is not None and latest.state in (State.SUBMITTED, State.IN_REVIEW)
    if latest is not None and latest.state == State.RESUBMISSION:
        steps.append(
            NextStep(
                5,
                "Send us a document again",
                latest.decision_reason or "We could not verify one of your documents.",
                url,
                "Upload again",
                "upload",
            )
        )
    elif (
        latest is not None
        and latest.state == State.DRAFT
        and verified
        and "proof_of_address" in latest.resubmit_documents  # started by an address change
    ):
        steps.append(
            NextStep(
                5,
                "Confirm your new address",
                "Upload a proof of your new address: a utility bill or a bank statement.",
                url,
                "Upload proof of address",
                "house-check",
            )
        )
    elif not verified and not waiting:
        steps.append(
            NextStep(
                10,
                "Verify your identity",
                "A few details, a short questionnaire and two documents: verified clients "
                "deposit without limit and withdraw.",
                url,
                "Verify now",
                "person-vcard",
            )
        )
    return OverviewPart(tiles=[tile], steps=steps)


def kyc_profile_address(client, forms: dict) -> ProfileCard:
    """The address card on the profile: the address we hold and the form to change it."""
    from .forms import AddressForm
    from .services import kyc_address_current

    current = kyc_address_current(client=client)
    latest = client.kyc_submissions.order_by("-created_at").first()
    return ProfileCard(
        "address",
        "kyc/_profile_address.html",
        {
            "form": forms.get("address") or AddressForm(initial=current),
            "current": current,
            "verified": client.kyc_level >= 1,
            "checking": latest is not None and latest.state in (State.SUBMITTED, State.IN_REVIEW),
        },
    )


def kyc_profile_finances(client, forms: dict) -> ProfileCard:
    """The finances card on the profile: what the client declared, and where to change it."""
    from .financial_profile import financial_profile_current

    return ProfileCard(
        "finances", "kyc/_profile_finances.html", {"profile": financial_profile_current(client)}
    )


def kyc_notices(client):
    """What the client should act on in KYC, on every portal page (hook `portal.notices`): a
    source-of-funds document needed before withdrawing, an identity document expired or
    expiring within the warning margin. Never why enhanced due diligence applies."""
    from datetime import timedelta

    from django.utils import timezone

    from .pipeline import EXPIRY_MARGIN_DAYS
    from .selectors import _edd_why, _sof_approved

    if _edd_why(client) and not _sof_approved(client):
        yield Notice(
            "source_of_funds_required",
            "We need to know where your funds come from.",
            "Before you withdraw, please send us a document showing it, such as a payslip or a "
            "bank statement.",
            icon="file-earmark-text",
            url=reverse("kyc:finances"),
            link_text="Send a document",
            order=20,
        )
    expires = client.id_document_expires_on
    if client.kyc_level < 1 or expires is None:
        return
    today = timezone.now().date()
    if expires < today:
        yield Notice(
            "kyc_expired",
            "Your identity document has expired.",
            "Upload a new one to keep withdrawing.",
            icon="person-vcard",
            url=reverse("kyc:wizard"),
            link_text="Upload it",
            order=30,
        )
    elif expires <= today + timedelta(days=EXPIRY_MARGIN_DAYS):
        yield Notice(
            "kyc_expiring",
            f"Your identity document expires on {expires:%d %B %Y}.",
            "Upload a new one before then to keep withdrawing without a pause.",
            tone="info",
            icon="person-vcard",
            url=reverse("kyc:wizard"),
            link_text="Upload it",
            order=30,
        )
