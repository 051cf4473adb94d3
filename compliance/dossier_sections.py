"""Compliance's own part of the dossier (`dossier.sections`): every screening with its list
snapshots (file hash, published date), the alerts and their decisions, the risk ratings with
their factors, the periodic reviews, and the jurisdiction rules that applied to the client."""

from brokerage.dossier import DossierSection, table

from .models import Alert, PeriodicReview, RiskAssessment, RuleApplication, ScreeningRun


def compliance_section(client) -> DossierSection:
    return DossierSection(
        key="compliance",
        title="Screening, risk rating, reviews and jurisdiction rules",
        order=60,
        tables=[
            table(
                "screenings",
                "Screenings",
                ScreeningRun.objects.filter(client=client).order_by("screened_at", "id"),
                [
                    ("When (UTC)", "screened_at"),
                    ("Why", "reason"),
                    ("Names screened", "names"),
                    ("Hits", "hit_count"),
                    ("Alerts raised", "raised_count"),
                ],
            ),
            table(
                "alerts",
                "Screening alerts and decisions",
                Alert.objects.filter(client=client).order_by("created_at", "id"),
                [
                    ("Raised (UTC)", "created_at"),
                    ("List", "source__name"),
                    ("Snapshot", "snapshot_id"),
                    ("Snapshot file SHA-256", "snapshot__file_hash"),
                    ("Snapshot published", "snapshot__published_on"),
                    ("Entry", "list_id"),
                    ("Name screened", "screened_name"),
                    ("Matched name", "matched_name"),
                    ("Score", "score"),
                    ("Status", "status"),
                    ("Decided by", "decided_by__email"),
                    ("Decided (UTC)", "decided_at"),
                    ("Reason", "decision_reason"),
                    ("Lifted (UTC)", "lifted_at"),
                    ("Cleared (UTC)", "cleared_at"),
                    ("Score breakdown", "breakdown"),
                ],
            ),
            table(
                "risk",
                "Risk ratings",
                RiskAssessment.objects.filter(client=client).order_by("assessed_at", "id"),
                [
                    ("When (UTC)", "assessed_at"),
                    ("Rating", "rating"),
                    ("Score", "score"),
                    ("Why recomputed", "cause"),
                    ("By", "actor_label"),
                    ("Factors", "factors"),
                ],
            ),
            table(
                "reviews",
                "Periodic reviews",
                PeriodicReview.objects.filter(client=client).order_by("due_on", "id"),
                [
                    ("Due", "due_on"),
                    ("Rating", "rating"),
                    ("Status", "status"),
                    ("Completed (UTC)", "completed_at"),
                    ("By", "completed_by__email"),
                    ("Outcome", "outcome"),
                    ("Notes", "notes"),
                ],
            ),
            table(
                "jurisdiction_rules",
                "Jurisdiction rules that applied",
                RuleApplication.objects.filter(client=client).order_by("applied_at", "id"),
                [
                    ("Applied (UTC)", "applied_at"),
                    ("Country", "rule__country"),
                    ("Rule", "rule__kind"),
                    ("Basis", "rule__basis"),
                    ("By", "via"),
                    ("Lifted (UTC)", "lifted_at"),
                    ("Why lifted", "lift_reason"),
                ],
            ),
        ],
    )
