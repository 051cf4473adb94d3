"""KYC's part of the client 360: the client's submissions and their decisions (one query)."""

from django.urls import reverse

from brokerage.statements import Statement
from brokerage.status import status_tone
from clients.client360 import Contribution, Section, TimelineEntry

from .financial_profile import financial_profile_history, profile_changes
from .models import KycSubmission, SourceOfFundsDocument

LIMIT = 5


# The section's reads, each compiled once per process (brokerage.statements).
_SUBMISSIONS = Statement(
    lambda v: (
        KycSubmission.objects.filter(client_id=v.client_id)
        .select_related("decided_by")
        .order_by("-created_at")[:LIMIT]
    )
)
_SOURCE_OF_FUNDS = Statement(
    lambda v: SourceOfFundsDocument.objects.filter(client_id=v.client_id)[:LIMIT]
)


def kyc_360(client, user) -> Contribution:
    submissions = _SUBMISSIONS(client_id=client.pk)
    reviewer = user.is_superuser or user.has_perm("kyc.review_kyc")
    timeline = []
    rows = []
    for s in submissions:
        url = reverse("kyc_review:review", args=[s.pk]) if reviewer else ""
        rows.append({"s": s, "url": url})
        if s.submitted_at:
            timeline.append(
                TimelineEntry(
                    s.submitted_at,
                    "kyc",
                    "upload",
                    "KYC submitted",
                    url=url,
                    same=(f"kyc.kycsubmission:{s.pk}",),
                )
            )
        if s.decided_at:
            who = s.decided_by.email if s.decided_by else (s.decision_rule or "automatic checks")
            timeline.append(
                TimelineEntry(
                    s.decided_at,
                    "kyc",
                    "person-check",
                    f"KYC {s.get_state_display().lower()}",
                    f"{who}{': ' + s.decision_reason if s.decision_reason else ''}"[:200],
                    url=url,
                    tone=status_tone(s.state),
                    same=(
                        f"kyc.kycsubmission:{s.pk}",
                        *(("kyc-verified",) if s.state == "approved" else ()),
                    ),
                )
            )
    versions = financial_profile_history(client)
    changes = [
        {"p": newer, "changes": profile_changes(newer, older)}
        for newer, older in zip(versions, versions[1:], strict=False)
    ]
    sof = _SOURCE_OF_FUNDS(client_id=client.pk)
    for p in versions:
        timeline.append(
            TimelineEntry(
                p.declared_at,
                "kyc",
                "cash-coin",
                "Financial profile declared" if p.version == 1 else "Financial profile changed",
                f"version {p.version}",
            )
        )
    return Contribution(
        sections=[
            Section(
                "finances",
                "Financial profile",
                "kyc/_360_finances.html",
                {
                    "profile": versions[0] if versions else None,
                    "changes": changes,
                    "sof": sof,
                    "reviewer": reviewer,
                },
                order=26,
                column="side",
                icon="cash-coin",
            ),
            Section(
                "kyc",
                "KYC submissions",
                "kyc/_360_kyc.html",
                {"rows": rows},
                order=25,
                column="side",
                icon="person-vcard",
            ),
        ],
        timeline=timeline,
    )
