"""Compliance's own part of the dossier (`dossier.sections`): every screening with its list
snapshots (file hash, published date), the alerts and their decisions, the risk ratings with
their factors, the periodic reviews, and the jurisdiction rules that applied to the client;
and its AML cases, with the alerts each grouped, its notes and its files."""

from brokerage.dossier import DossierFile, DossierSection, table

from .models import (
    Alert,
    Case,
    CaseAttachment,
    CaseNote,
    PeriodicReview,
    RiskAssessment,
    RuleApplication,
    ScreeningRun,
)


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


def _case_file(attachment: CaseAttachment) -> DossierFile:
    extension = attachment.file.name.rsplit(".", 1)[-1]
    return DossierFile(
        name=f"cases/case-{attachment.case_id}-file-{attachment.pk}.{extension}",
        open=lambda f=attachment.file: f.open("rb"),
        note=attachment.name,
        sha256=attachment.sha256,
    )


def cases_section(client) -> DossierSection:
    attachments = CaseAttachment.objects.filter(case__client=client).order_by("uploaded_at", "id")
    return DossierSection(
        key="cases",
        title="AML cases",
        order=61,
        tables=[
            table(
                "cases",
                "AML cases and their decisions",
                Case.objects.filter(client=client).order_by("opened_at", "id"),
                [
                    ("Case", "id"),
                    ("Opened (UTC)", "opened_at"),
                    ("Opened by", "actor_label"),
                    ("Why", "summary"),
                    ("Status", "status"),
                    ("Officer", "assigned_to__email"),
                    ("Deadline (UTC)", "due_at"),
                    ("Escalated by", "escalated_by__email"),
                    ("Escalated (UTC)", "escalated_at"),
                    ("Why escalated", "escalation_reason"),
                    ("Decided by", "decided_by__email"),
                    ("Decided (UTC)", "decided_at"),
                    ("Why closed", "close_reason"),
                    ("Report reference", "sar_reference"),
                    ("Report filed on", "sar_filed_on"),
                ],
            ),
            table(
                "case_alerts",
                "Screening alerts grouped in cases",
                Case.screening_alerts.through.objects.filter(case__client=client).order_by(
                    "case_id", "alert_id"
                ),
                [("Case", "case_id"), ("Screening alert", "alert_id")],
            ),
            table(
                "case_notes",
                "Case notes",
                CaseNote.objects.filter(case__client=client).order_by("created_at", "id"),
                [
                    ("Case", "case_id"),
                    ("When (UTC)", "created_at"),
                    ("By", "author__email"),
                    ("Note", "text"),
                ],
            ),
            table(
                "case_files",
                "Case files",
                attachments,
                [
                    ("Case", "case_id"),
                    ("Added (UTC)", "uploaded_at"),
                    ("By", "uploaded_by__email"),
                    ("Name", "name"),
                    ("What it is", "description"),
                    ("SHA-256", "sha256"),
                ],
            ),
        ],
        files=[_case_file(a) for a in attachments if a.file],
    )
