from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from brokerage.errors import NotAllowed

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
