from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from brokerage.errors import NotAllowed
from clients.standing import Purpose, Reason, Severity

from .models import KycDocument, KycSubmission

SLA_HOURS_AMBER, SLA_HOURS_RED = 4, 24


def review_queue(*, user, state: str = "in_review", q: str = "") -> QuerySet[KycSubmission]:
    if not user.has_perm("kyc.review_kyc"):
        raise NotAllowed("Only compliance officers review KYC.")
    qs = KycSubmission.objects.select_related("client__user").annotate(
        flags=Count("checks", filter=Q(checks__passed=False))
    )
    if state:
        qs = qs.filter(state=state)
    if q:
        qs = qs.filter(
            Q(last_name__icontains=q)
            | Q(first_name__icontains=q)
            | Q(client__user__email__icontains=q)
        )
    return qs.order_by("submitted_at", "pk")  # oldest first


def sla_colour(submission: KycSubmission, now=None) -> str:
    if not submission.submitted_at:
        return ""
    hours = ((now or timezone.now()) - submission.submitted_at).total_seconds() / 3600
    return (
        "danger" if hours > SLA_HOURS_RED else "warning" if hours > SLA_HOURS_AMBER else "success"
    )


def latest_checks(submission: KycSubmission):
    last = submission.checks.order_by("-run").values_list("run", flat=True).first()
    return list(submission.checks.filter(run=last)) if last else []


def document_for(*, user, document_id: int) -> KycDocument:
    document = KycDocument.objects.select_related("submission__client").get(pk=document_id)
    owner = document.submission.client.user_id == user.pk
    if not (owner or (user.is_staff and user.has_perm("kyc.review_kyc"))):
        raise NotAllowed("Not your document.")
    return document


def kyc_standing(client, purpose, *, amount_usd=None):
    """KYC's reasons in a client's standing (`clients.standing`, contributed by
    `kyc.contributions`): a withdrawal needs a verified, unexpired identity (an IB partner's
    first payout cannot be approved past it); an unverified
    client deposits at most KYC_UNVERIFIED_DEPOSIT_LIMIT_USD in all. A person may approve past
    each (review)."""
    if purpose == Purpose.WITHDRAW:
        expires = client.id_document_expires_on
        if client.kyc_level < 1 and client.holder == client.Holder.PARTNER:
            yield Reason(
                "kyc_not_verified",
                Severity.BLOCK,
                "The partner's identity is not verified (KYC level 0): no payout before it is.",
                "Verify your identity before your first payout.",
            )
        elif client.kyc_level < 1:
            yield Reason(
                "kyc_not_verified",
                Severity.REVIEW,
                "The client's identity is not verified (KYC level 0).",
                "Verify your identity before withdrawing.",
            )
        elif expires and expires < timezone.now().date():
            yield Reason(
                "kyc_expired",
                Severity.REVIEW,
                f"The client's identity document expired on {expires}.",
                "Your identity document has expired; please upload a new one.",
            )
    elif purpose == Purpose.DEPOSIT and client.kyc_level < 1 and amount_usd is not None:
        limit = Decimal(str(settings.KYC_UNVERIFIED_DEPOSIT_LIMIT_USD))
        if amount_usd > limit:
            yield Reason(
                "kyc_deposit_limit",
                Severity.REVIEW,
                f"An unverified client deposits at most USD {limit:,.0f} in all; this deposit "
                f"would make USD {amount_usd:,.2f}.",
                f"Verify your identity to deposit more than USD {limit:,.0f}.",
            )
