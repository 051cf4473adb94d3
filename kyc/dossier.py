"""KYC's part of the compliance dossier (`dossier.sections`): each submission with the identity
details given, the appropriateness test (answers, score, outcome, risk warning acknowledged),
every automatic check with its explanation, each decision and who made it, the financial
profile's versions, and the documents themselves (identity and source of funds), each with the
SHA-256 recorded at upload."""

from brokerage.dossier import DossierFile, DossierSection, table

from .models import FinancialProfile, KycCheck, KycDocument, KycSubmission, SourceOfFundsDocument


def _file(prefix: str, document) -> DossierFile:
    extension = document.file.name.rsplit(".", 1)[-1]
    return DossierFile(
        name=f"{prefix}-{document.pk}.{extension}",
        open=lambda f=document.file: f.open("rb"),
        note=getattr(document, "original_name", ""),
        sha256=document.sha256,
    )


def kyc_section(client) -> DossierSection:
    documents = list(
        KycDocument.objects.filter(submission__client=client).order_by("uploaded_at", "id")
    )
    sof = list(SourceOfFundsDocument.objects.filter(client=client).order_by("uploaded_at", "id"))
    files = [_file(f"kyc/{d.kind}", d) for d in documents if d.file]
    files += [_file("source-of-funds/document", d) for d in sof if d.file]
    return DossierSection(
        key="kyc",
        title="Identity, KYC and the appropriateness test",
        order=20,
        tables=[
            table(
                "kyc_submissions",
                "KYC submissions and decisions",
                KycSubmission.objects.filter(client=client).order_by("created_at"),
                [
                    ("Submission", "id"),
                    ("State", "state"),
                    ("First name", "first_name"),
                    ("Last name", "last_name"),
                    ("Date of birth", "date_of_birth"),
                    ("Nationality", "nationality"),
                    ("Address", "address_line"),
                    ("City", "city"),
                    ("Postcode", "postcode"),
                    ("Country", "country"),
                    ("Submitted (UTC)", "submitted_at"),
                    ("Checked (UTC)", "checked_at"),
                    ("Decided (UTC)", "decided_at"),
                    ("Decided by", "decided_by__email"),
                    ("First approval by", "first_approval_by__email"),
                    ("Rule", "decision_rule"),
                    ("Reason", "decision_reason"),
                ],
            ),
            table(
                "appropriateness",
                "Appropriateness test",
                KycSubmission.objects.filter(client=client).order_by("created_at"),
                [
                    ("Submission", "id"),
                    ("Answers", "answers"),
                    ("Score", "questionnaire_score"),
                    ("Outcome", "questionnaire_outcome"),
                    ("Risk warning acknowledged (UTC)", "risk_warning_acknowledged_at"),
                    ("Cooling off until (UTC)", "cooling_off_until"),
                ],
            ),
            table(
                "kyc_checks",
                "Automatic checks",
                KycCheck.objects.filter(submission__client=client).order_by("created_at", "id"),
                [
                    ("When (UTC)", "created_at"),
                    ("Submission", "submission_id"),
                    ("Run", "run"),
                    ("Check", "name"),
                    ("Passed", "passed"),
                    ("Flag", "flag"),
                    ("Explanation", "explanation"),
                ],
            ),
            table(
                "kyc_documents",
                "Documents uploaded",
                KycDocument.objects.filter(submission__client=client).order_by("uploaded_at", "id"),
                [
                    ("Uploaded (UTC)", "uploaded_at"),
                    ("Document", "id"),
                    ("Kind", "kind"),
                    ("Side", "side"),
                    ("File name", "original_name"),
                    ("Type", "content_type"),
                    ("SHA-256", "sha256"),
                    ("Current", "is_current"),
                ],
            ),
            table(
                "financial_profile",
                "Financial profile, each version",
                FinancialProfile.objects.filter(client=client).order_by("version"),
                [
                    ("Version", "version"),
                    ("Declared (UTC)", "declared_at"),
                    ("Employment", "employment_status"),
                    ("Occupation", "occupation"),
                    ("Industry", "industry"),
                    ("Currency", "currency"),
                    ("Annual income", "annual_income"),
                    ("Net worth", "net_worth"),
                    ("Expected yearly deposits", "expected_deposits_amount"),
                    ("Source of funds", "source_of_funds"),
                    ("Source of wealth", "source_of_wealth"),
                ],
            ),
            table(
                "source_of_funds",
                "Source-of-funds documents and decisions",
                SourceOfFundsDocument.objects.filter(client=client).order_by("uploaded_at"),
                [
                    ("Uploaded (UTC)", "uploaded_at"),
                    ("Document", "id"),
                    ("Description", "description"),
                    ("Status", "status"),
                    ("SHA-256", "sha256"),
                    ("Decided by", "decided_by__email"),
                    ("Decided (UTC)", "decided_at"),
                    ("Reason", "decision_reason"),
                ],
            ),
        ],
        files=files,
    )
