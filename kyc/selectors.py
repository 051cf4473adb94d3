from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from brokerage.country_rules import client_country_rules, strictest
from brokerage.errors import NotAllowed
from brokerage.models import CountryRule
from clients.standing import Purpose, Reason, Severity

from .models import KycDocument, KycSubmission, SourceOfFundsDocument

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
    return age_colour(submission.submitted_at, now)


def age_colour(since, now=None) -> str:
    """How long something has waited, as the queues colour it (same hours as the KYC SLA)."""
    hours = ((now or timezone.now()) - since).total_seconds() / 3600
    return (
        "danger" if hours > SLA_HOURS_RED else "warning" if hours > SLA_HOURS_AMBER else "success"
    )


def sof_queue(*, user, status: str = "in_review", q: str = "") -> QuerySet[SourceOfFundsDocument]:
    if not user.has_perm("kyc.review_kyc"):
        raise NotAllowed("Only compliance officers review source-of-funds documents.")
    qs = SourceOfFundsDocument.objects.select_related("client__user")
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(
            Q(client__user__last_name__icontains=q)
            | Q(client__user__first_name__icontains=q)
            | Q(client__user__email__icontains=q)
        )
    return qs.order_by("uploaded_at", "pk")  # oldest first


def sof_document_for(*, user, document_id: int) -> SourceOfFundsDocument:
    document = SourceOfFundsDocument.objects.select_related("client").get(pk=document_id)
    owner = document.client.user_id == user.pk
    if not (owner or (user.is_staff and user.has_perm("kyc.review_kyc"))):
        raise NotAllowed("Not your document.")
    return document


def latest_checks(submission: KycSubmission):
    last = submission.checks.order_by("-run").values_list("run", flat=True).first()
    return list(submission.checks.filter(run=last)) if last else []


def document_for(*, user, document_id: int) -> KycDocument:
    document = KycDocument.objects.select_related("submission__client").get(pk=document_id)
    owner = document.submission.client.user_id == user.pk
    if not (owner or (user.is_staff and user.has_perm("kyc.review_kyc"))):
        raise NotAllowed("Not your document.")
    return document


def _edd_why(client) -> str:
    """Why enhanced due diligence applies to the client, or "": their risk rating is high, or
    a jurisdiction rule of enhanced due diligence is in force on their residence or
    nationality (the kernel's country rules)."""
    if client.enhanced_due_diligence:
        return "high risk rating"
    rule = strictest(client_country_rules(client), CountryRule.Kind.EDD)
    return rule.message.rstrip(".") if rule else ""


def _sof_approved(client) -> bool:
    return SourceOfFundsDocument.objects.filter(
        client=client, status=SourceOfFundsDocument.Status.APPROVED
    ).exists()


def kyc_standing(client, purpose, *, amount_usd=None):
    """KYC's reasons in a client's standing (`clients.standing`, contributed by
    `kyc.contributions`): a withdrawal needs a verified, unexpired identity (an IB partner's
    first payout cannot be approved past it); a client under enhanced due diligence needs an
    approved source-of-funds document before withdrawing; an unverified
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
        why = _edd_why(client)
        if why and not _sof_approved(client):
            yield Reason(
                "source_of_funds_required",
                Severity.REVIEW,
                f"Enhanced due diligence ({why}): the client has no approved source-of-funds "
                "document.",
                "Before you withdraw, please send us a document showing where your funds come "
                "from (Profile, Your finances).",
            )
    elif purpose == Purpose.DEPOSIT and client.kyc_level < 1 and amount_usd is not None:
        limit = Decimal(str(settings.KYC_UNVERIFIED_DEPOSIT_LIMIT_USD))
        edd = strictest(client_country_rules(client), CountryRule.Kind.EDD)
        why = ""
        if edd is not None:
            limit = min(limit, Decimal(str(settings.KYC_EDD_UNVERIFIED_DEPOSIT_LIMIT_USD)))
            why = f" ({edd.message})"
        if amount_usd > limit:
            yield Reason(
                "kyc_deposit_limit",
                Severity.REVIEW,
                f"An unverified client deposits at most USD {limit:,.0f} in all{why}; this "
                f"deposit would make USD {amount_usd:,.2f}.",
                f"Verify your identity to deposit more than USD {limit:,.0f}{why}.",
            )


def financial_profile_by_client(client_ids) -> dict:
    """Each client's current financial profile (one query)."""
    from .models import FinancialProfile

    rows = (
        FinancialProfile.objects.filter(client_id__in=client_ids)
        .order_by("client_id", "-version")
        .distinct("client_id")
    )
    return {p.client_id: p for p in rows}


def sof_waiting() -> dict:
    """How many source-of-funds documents wait for review, and since when (one query)."""
    from django.db.models import Min

    return SourceOfFundsDocument.objects.filter(
        status=SourceOfFundsDocument.Status.IN_REVIEW
    ).aggregate(n=Count("pk"), oldest=Min("uploaded_at"))
