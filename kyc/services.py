"""Writes on KYC: the client's wizard, submission, automatic checks and decision, review."""

import logging
import time
from datetime import date, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from brokerage.country_rules import country_rules_for, strictest
from brokerage.errors import InvalidInput, NotAllowed
from brokerage.intl import is_country
from brokerage.models import CountryRule
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record
from brokerage.uploads import check_upload
from clients.models import Client
from clients.notify import client_notify
from clients.services import (
    client_kyc_level_set,
    client_name_report,
    client_nationality_set,
    client_residence_set,
    client_restrict,
)
from kyc import audit_events

from . import pipeline, questionnaire
from .models import KycCheck, KycDocument, KycSubmission

log = logging.getLogger(__name__)
AUTOCHECK_ACTOR = "rule:kyc_autocheck"
EXPIRY_ACTOR = "rule:kyc_expiry"
State = KycSubmission.State
OPEN_STATES = (State.DRAFT, State.RESUBMISSION)
# The details a change of which has the client screened again.
SCREENED_DETAILS = ("first_name", "last_name", "date_of_birth", "nationality")


def _lock(submission: KycSubmission) -> KycSubmission:
    return KycSubmission.objects.select_for_update().get(pk=submission.pk)


@transaction.atomic
def kyc_submission_current(*, client: Client) -> KycSubmission:
    """The client's submission to work on: the open one, else the latest, else a new draft."""
    latest = client.kyc_submissions.order_by("-created_at").first()
    needs_new = latest is not None and (
        latest.state == State.REJECTED
        or (latest.state == State.APPROVED and client.kyc_level < 1)  # e.g. the ID expired
    )
    if latest is not None and not needs_new:
        return latest
    submission = KycSubmission.objects.create(
        client=client,
        first_name=client.user.first_name,
        last_name=client.user.last_name,
        country=client.country,
    )
    return submission


def _editable(submission: KycSubmission) -> None:
    if submission.state not in OPEN_STATES:
        raise InvalidInput(
            "This submission is already with us; it cannot be changed now.", code="not_editable"
        )


@transaction.atomic
def kyc_details_save(*, submission: KycSubmission, actor: Actor, data: dict) -> KycSubmission:
    submission = _lock(submission)
    _editable(submission)
    errors = {}
    born = data.get("date_of_birth")
    if not isinstance(born, date) or born >= timezone.now().date():
        errors["date_of_birth"] = ["A date in the past."]
    for field in ("nationality", "country"):
        if not is_country(data.get(field) or ""):
            errors[field] = ["Choose a country."]
    for field in ("first_name", "last_name", "address_line", "city", "postcode"):
        if not (data.get(field) or "").strip():
            errors[field] = ["Required."]
    if not errors:
        errors.update(_blocked_fields(data["country"], data["nationality"]))
    if errors:
        raise InvalidInput("Some details are missing or wrong.", fields=errors)
    before = [getattr(submission, f) for f in SCREENED_DETAILS]
    for field in ("first_name", "last_name", "address_line", "city", "postcode"):
        setattr(submission, field, " ".join(data[field].split()))
    submission.date_of_birth = born
    submission.nationality, submission.country = data["nationality"], data["country"]
    submission.step = "questionnaire" if submission.step == "details" else submission.step
    submission.save()
    if [getattr(submission, f) for f in SCREENED_DETAILS] != before:
        client_name_report(
            client_id=submission.client_id,
            origin="details_changed",
            reference=f"KYC submission {submission.pk}",
        )
    return submission


@transaction.atomic
def kyc_questionnaire_save(
    *, submission: KycSubmission, actor: Actor, answers: dict, acknowledge_warning: bool = False
) -> KycSubmission:
    submission = _lock(submission)
    _editable(submission)
    now = timezone.now()
    if submission.cooling_off_until and submission.cooling_off_until > now:
        raise InvalidInput(
            f"You can take the questionnaire again on {submission.cooling_off_until:%d %B %Y}.",
            code="cooling_off",
        )
    try:
        points, outcome = questionnaire.score(answers)
    except KeyError as exc:
        raise InvalidInput(
            "Answer every question.", fields={str(exc.args[0]): ["Required."]}
        ) from exc
    submission.answers = answers
    submission.questionnaire_score, submission.questionnaire_outcome = points, outcome
    submission.risk_warning_acknowledged_at = (
        now if (outcome == "warn" and acknowledge_warning) else None
    )
    submission.cooling_off_until = (
        now + timedelta(days=settings.KYC_COOLING_OFF_DAYS) if outcome == "fail" else None
    )
    if outcome != "fail" and (outcome == "pass" or acknowledge_warning):
        declared = submission.client.financial_profiles.exists()
        submission.step = "documents" if declared else "finances"
    submission.save()
    audit_record(
        actor=actor,
        action=audit_events.KYC_QUESTIONNAIRE_SCORED,
        target=submission,
        evidence={"points": points, "of": questionnaire.MAX_POINTS, "outcome": outcome},
    )
    return submission


@transaction.atomic
def kyc_document_upload(
    *, submission: KycSubmission, actor: Actor, kind: str, side: str, uploaded_file
) -> KycDocument:
    """Check and store a document privately. Nothing is stored if the file is refused."""
    submission = _lock(submission)
    _editable(submission)
    if kind not in KycDocument.Kind.values or side not in KycDocument.Side.values:
        raise InvalidInput("Unknown document type.", fields={"kind": ["Choose a type."]})
    checked = check_upload(uploaded_file)
    submission.documents.filter(kind=kind, side=side, is_current=True).update(is_current=False)
    document = KycDocument(
        submission=submission,
        kind=kind,
        side=side,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        width=checked.width,
        height=checked.height,
        pages=checked.pages,
    )
    document.file.save(f"upload.{checked.extension}", ContentFile(checked.data), save=False)
    document.save()
    audit_record(
        actor=actor,
        action=audit_events.KYC_DOCUMENT_UPLOADED,
        target=submission,
        evidence={
            "kind": kind,
            "side": side,
            "sha256": checked.sha256,
            "type": checked.content_type,
            "size": len(checked.data),
        },
    )
    return document


def _current_documents(submission: KycSubmission):
    return list(submission.documents.filter(is_current=True))


@transaction.atomic
def kyc_submission_submit(*, submission: KycSubmission, actor: Actor) -> KycSubmission:
    submission = _lock(submission)
    _editable(submission)
    kinds = {d.kind for d in _current_documents(submission)}
    problems = {}
    if not submission.date_of_birth:
        problems["details"] = ["Fill in your personal details."]
    if not submission.questionnaire_outcome or submission.questionnaire_outcome == "fail":
        problems["questionnaire"] = ["Complete the questionnaire."]
    if not submission.client.financial_profiles.exists():
        problems["finances"] = ["Tell us about your finances."]
    if not kinds & pipeline.IDENTITY_KINDS:
        problems["identity"] = ["Upload your passport, ID card or driving licence."]
    if "proof_of_address" not in kinds:
        problems["proof_of_address"] = ["Upload a utility bill or bank statement."]
    if problems:
        raise InvalidInput("Something is still missing.", code="incomplete", fields=problems)
    blocked = blocked_rule(submission)
    if blocked is not None:
        raise NotAllowed(
            f"We cannot verify you: {blocked.message}",
            code="jurisdiction_blocked",
            fields={"details": [blocked.message]},
        )
    submission.submit()
    submission.submitted_at = timezone.now()
    submission.step = "submitted"
    submission.save()
    audit_record(actor=actor, action=audit_events.KYC_SUBMITTED, target=submission)
    client_nationality_set(
        client=submission.client,
        nationality=submission.nationality,
        actor=actor,
        reason=f"declared in KYC submission {submission.pk}",
    )
    from .tasks import kyc_autocheck_task

    kyc_autocheck_task.delay_on_commit(submission.pk)
    return submission


def _case(submission: KycSubmission, documents: list[KycDocument]) -> pipeline.Case:
    docs = []
    for document in documents:
        with document.file.open("rb") as fh:
            docs.append(
                pipeline.Doc(
                    document.kind, fh.read(), document.content_type, document.sha256, document.side
                )
            )

    def duplicate_of(sha256: str) -> str | None:
        other = (
            KycDocument.objects.filter(sha256=sha256)
            .exclude(submission__client_id=submission.client_id)
            .values_list("submission__client_id", flat=True)
            .first()
        )
        return f"client {other}" if other else None

    return pipeline.Case(
        first_name=submission.first_name,
        last_name=submission.last_name,
        date_of_birth=submission.date_of_birth,
        nationality=submission.nationality,
        address_line=submission.address_line,
        postcode=submission.postcode,
        documents=docs,
        questionnaire_outcome=submission.questionnaire_outcome,
        risk_warning_acknowledged=submission.risk_warning_acknowledged_at is not None,
        duplicate_of=duplicate_of,
    )


def _checked_as(submission: KycSubmission, documents: list[KycDocument]) -> tuple:
    """What the checks' results depend on: the state and submission they started from (a
    resubmission is a new `submitted_at`), the details compared and the documents read."""
    return (
        submission.state,
        submission.submitted_at,
        submission.first_name,
        submission.last_name,
        submission.date_of_birth,
        submission.nationality,
        submission.address_line,
        submission.postcode,
        submission.country,
        submission.questionnaire_outcome,
        submission.risk_warning_acknowledged_at,
        sorted((d.pk, d.sha256) for d in documents),
    )


def _checks_run(submission: KycSubmission, documents: list[KycDocument]):
    """Every automatic check on the case; slow (files, OCR), so never inside a transaction."""
    started = time.perf_counter()
    try:
        results = pipeline.run(_case(submission, documents))
    except Exception as exc:  # noqa: BLE001  (a file the checks cannot read goes to a human)
        log.exception("KYC checks failed on submission %s", submission.pk)
        results = [
            pipeline.Result(
                "pipeline",
                False,
                f"The documents could not be processed "
                f"({exc.__class__.__name__}); check them by hand.",
                "unreadable",
            )
        ]
    return results, round(time.perf_counter() - started, 3)


def kyc_submission_autocheck(*, submission_id: int) -> KycSubmission:
    """Run every automatic check and decide. Idempotent: only a submitted case is checked.

    Three steps, as finance's outside calls: read the submission and its documents; run the
    checks (files, OCR, MRZ, image quality: seconds of CPU) with no transaction open and no
    lock held; then, in a short transaction under the submission's row lock, record the
    results and the decision only if the submission is still the one the checks started from
    (same state, same submission, same details and documents). Otherwise the results are
    discarded and nothing is recorded: another attempt decided it, or a later task (or
    `kyc_unchecked_sweep`) checks what the submission now is.
    """
    submission = KycSubmission.objects.get(pk=submission_id)
    if submission.state != State.SUBMITTED:
        return submission
    documents = _current_documents(submission)
    started_from = _checked_as(submission, documents)
    results, seconds = _checks_run(submission, documents)
    with transaction.atomic():
        submission = _lock(submission)
        if _checked_as(submission, _current_documents(submission)) != started_from:
            log.info(
                "KYC submission %s changed during its checks; results discarded", submission.pk
            )
            return submission
        return _autocheck_record(submission, results, seconds)


def blocked_rule(submission: KycSubmission):
    """The blocked country rule on the submission's residence or nationality, if any: such a
    person is not onboarded, the refusal naming the rule."""
    return strictest(
        country_rules_for(residence=submission.country, nationality=submission.nationality),
        CountryRule.Kind.BLOCKED,
    )


def _blocked_fields(residence: str, nationality: str) -> dict:
    applied = country_rules_for(
        residence=residence, nationality=nationality, kinds=[CountryRule.Kind.BLOCKED]
    )
    fields = {}
    for a in applied:
        fields.setdefault("country" if a.via == "residence" else "nationality", [a.message])
    return fields


def four_eyes_rule(submission: KycSubmission):
    """The enhanced-due-diligence country rule on the submission's residence or nationality
    (`brokerage.country_rules`), if any: its approval needs two compliance officers."""
    return strictest(
        country_rules_for(residence=submission.country, nationality=submission.nationality),
        CountryRule.Kind.EDD,
    )


def _autocheck_record(submission: KycSubmission, results, seconds: float) -> KycSubmission:
    """The checks' results and the decision, under the submission's lock, with the audit event."""
    for flag, applied, then in (
        ("jurisdiction_blocked", blocked_rule(submission), "It cannot be approved while it is."),
        (
            "high_risk_country",
            four_eyes_rule(submission),
            "Two compliance officers approve it, never the automatic checks.",
        ),
    ):
        if applied is not None:
            results.append(pipeline.Result(flag, False, f"{applied.message} {then}", flag))
    run = (submission.checks.aggregate(m=Max("run"))["m"] or 0) + 1
    KycCheck.objects.bulk_create(
        [
            KycCheck(
                submission=submission,
                run=run,
                name=r.name,
                passed=r.passed,
                flag=r.flag,
                explanation=r.explanation[:300],
                compared=r.compared,
            )
            for r in results
        ]
    )
    _document_name_report(submission, results)
    approved, flags = pipeline.decide(results)
    submission.checked_at = timezone.now()
    evidence = {
        "run": run,
        "flags": flags,
        "seconds": seconds,
        "checks": {r.name: r.passed for r in results},
    }
    if approved:
        submission.auto_approve()
        submission.decided_at = submission.checked_at
        submission.decision_rule = "every automatic check passed"
        submission.save()
        expiry = next(
            (
                date.fromisoformat(r.compared["expiry"])
                for r in results
                if r.name == "expiry" and r.compared.get("expiry")
            ),
            None,
        )
        audit_record(
            actor=AUTOCHECK_ACTOR,
            action=audit_events.KYC_AUTO_APPROVED,
            target=submission,
            reason="every automatic check passed",
            evidence=evidence,
        )
        _residence_verified(submission, AUTOCHECK_ACTOR)
        client_kyc_level_set(
            client=submission.client,
            level=1,
            actor=AUTOCHECK_ACTOR,
            reason=f"KYC submission {submission.pk} approved automatically",
            document_expires_on=expiry,
            evidence={"submission": submission.pk},
        )
        _tell_approved(submission, AUTOCHECK_ACTOR)
    else:
        submission.send_to_review()
        submission.save()
        audit_record(
            actor=AUTOCHECK_ACTOR,
            action=audit_events.KYC_SENT_TO_REVIEW,
            target=submission,
            reason="flagged: " + ", ".join(flags),
            evidence=evidence,
        )
    return submission


def kyc_unchecked_sweep(*, older_than_seconds: int | None = None) -> int:
    """Queue the check of any submission left unchecked for `KYC_UNCHECKED_SWEEP_SECONDS`
    (worker or Redis was down, or its results were discarded because it changed during the
    checks). A check still running is queued again too; whichever attempt records first
    decides, the other's results are discarded."""
    from .tasks import kyc_autocheck_task

    if older_than_seconds is None:
        older_than_seconds = settings.KYC_UNCHECKED_SWEEP_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        KycSubmission.objects.filter(state=State.SUBMITTED, submitted_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )
    for pk in ids:
        kyc_autocheck_task.delay(pk)
    return len(ids)


# --- Review ---------------------------------------------------------------------------------


def _officer(actor) -> None:
    actor_require(actor, "kyc.review_kyc", "Only compliance officers review KYC.")


@transaction.atomic
def kyc_review_approve(*, submission: KycSubmission, actor, reason: str) -> KycSubmission:
    _officer(actor)
    submission = _lock(submission)
    if submission.state != State.IN_REVIEW:
        raise InvalidInput("Only a submission in review can be approved.")
    if not reason.strip():
        raise InvalidInput("Say why it can be approved.", fields={"reason": ["Required."]})
    blocked = blocked_rule(submission)
    if blocked is not None:
        raise NotAllowed(f"It cannot be approved: {blocked.message}", code="jurisdiction_blocked")
    four_eyes = four_eyes_rule(submission) is not None
    if four_eyes and submission.first_approval_by_id is None:
        submission.first_approval_by = actor
        submission.save(update_fields=["first_approval_by"])
        audit_record(
            actor=actor, action=audit_events.KYC_FIRST_APPROVAL, target=submission, reason=reason
        )
        return submission
    if four_eyes and submission.first_approval_by_id == actor.pk:
        raise NotAllowed("A second compliance officer must give the second approval.")
    submission.approve()
    submission.decided_at, submission.decided_by = timezone.now(), actor
    submission.decision_reason = reason.strip()
    submission.save()
    audit_record(
        actor=actor,
        action=audit_events.KYC_APPROVED,
        target=submission,
        reason=reason,
        evidence={"four_eyes": four_eyes},
    )
    _residence_verified(submission, actor)
    client_kyc_level_set(
        client=submission.client,
        level=1,
        actor=actor,
        reason=f"KYC submission {submission.pk} approved in review",
    )
    _tell_approved(submission, actor)
    return submission


def _residence_verified(submission: KycSubmission, actor: Actor) -> None:
    """An approved submission proves where the client lives: the country of residence it
    declares (with its proof of address) becomes the client's, through clients' service
    (audited, in the client's history; the jurisdiction rules, leverage caps and risk rating
    follow it). Written at approval, not when the details are saved: a declared country is
    only checked against the rules until a proof of address is accepted."""
    if submission.country and submission.country != submission.client.country:
        client_residence_set(
            client=submission.client,
            country=submission.country,
            actor=actor,
            reason=f"proved in KYC submission {submission.pk}",
        )


def _document_name_report(submission: KycSubmission, results) -> None:
    """The name the document's MRZ reads, when it is not the name the client registered with,
    is screened too (through the kernel's `client.name_reported` hook)."""
    found = pipeline.document_identity(results)
    registered = f"{submission.first_name} {submission.last_name}"
    if found is None or not found["name"] or pipeline.same_name(found["name"], registered):
        return
    client_name_report(
        client_id=submission.client_id,
        origin="kyc_document",
        name=found["name"],
        reference=f"KYC submission {submission.pk}",
        dob=found["dob"],
        nationality=found["nationality"],
    )


def _tell_approved(submission: KycSubmission, actor: Actor) -> None:
    client_notify(
        submission.client,
        email="kyc_approved",
        key=f"kyc:{submission.pk}:approved",
        actor=actor,
        url_name="portal:home",
        data={"kyc_submission": submission.pk},
    )


@transaction.atomic
def kyc_review_reject(*, submission: KycSubmission, actor, reason: str) -> KycSubmission:
    _officer(actor)
    submission = _lock(submission)
    if submission.state != State.IN_REVIEW:
        raise InvalidInput("Only a submission in review can be rejected.")
    if not reason.strip():
        raise InvalidInput("Give the reason for the rejection.", fields={"reason": ["Required."]})
    submission.reject()
    submission.decided_at, submission.decided_by = timezone.now(), actor
    submission.decision_reason = reason.strip()
    submission.save()
    audit_record(actor=actor, action=audit_events.KYC_REJECTED, target=submission, reason=reason)
    client_notify(
        submission.client,
        email="kyc_rejected",
        key=f"kyc:{submission.pk}:rejected",
        actor=actor,
        url_name="kyc:wizard",
        context={"reason": submission.decision_reason},
        data={"kyc_submission": submission.pk},
    )
    return submission


@transaction.atomic
def kyc_review_request_resubmission(
    *, submission: KycSubmission, actor, documents: list[str], message: str
) -> KycSubmission:
    _officer(actor)
    submission = _lock(submission)
    if submission.state != State.IN_REVIEW:
        raise InvalidInput("Only a submission in review can be sent back.")
    documents = [d for d in documents if d in KycDocument.Kind.values]
    if not documents or not message.strip():
        raise InvalidInput(
            "Name the document to send again and tell the client what to fix.",
            fields={"documents": ["Choose at least one."], "message": ["Required."]},
        )
    submission.request_resubmission()
    submission.first_approval_by = None  # new documents need both approvals again
    submission.resubmit_documents = documents
    submission.decision_reason = message.strip()
    submission.step = "documents"
    submission.save()
    audit_record(
        actor=actor,
        action=audit_events.KYC_RESUBMISSION_REQUESTED,
        target=submission,
        reason=message,
        evidence={"documents": documents},
    )
    # One email per request: each follows a (re)submission, which has its own time.
    client_notify(
        submission.client,
        email="kyc_documents_requested",
        key=f"kyc:{submission.pk}:documents_requested:{submission.submitted_at.isoformat()}",
        actor=actor,
        url_name="kyc:wizard",
        context={
            "documents": ", ".join(KycDocument.Kind(d).label.lower() for d in documents),
            "message": message.strip(),
        },
        data={"kyc_submission": submission.pk, "documents": documents},
    )
    return submission


# --- The client's address changes -----------------------------------------------------------

ADDRESS_FIELDS = ("address_line", "city", "postcode", "country")


def kyc_address_current(*, client: Client) -> dict:
    """The address we hold for the client: the latest submission's (the one being checked
    or, once verified, the verified one)."""
    latest = client.kyc_submissions.order_by("-created_at").first()
    return {f: getattr(latest, f) for f in ADDRESS_FIELDS} if latest else {}


@transaction.atomic
def kyc_address_change(*, client: Client, actor: Actor, data: dict) -> KycSubmission:
    """The client tells us a new address. Before anything is verified it is simply their
    details; once a submission is with us or approved, a new address needs a new proof of
    address: a new submission starts with the verified identity (details, questionnaire and
    identity documents carried over) and the new address, waiting for a proof of address.
    The client keeps their KYC level meanwhile. Audited, with the old and new address."""
    errors = {}
    for field in ("address_line", "city", "postcode"):
        if not (data.get(field) or "").strip():
            errors[field] = ["Required."]
    if not is_country(data.get("country") or ""):
        errors["country"] = ["Choose a country."]
    if errors:
        raise InvalidInput("Please correct the address below.", fields=errors)
    new = {f: " ".join(str(data[f]).split()) for f in ADDRESS_FIELDS}
    latest = client.kyc_submissions.select_for_update().order_by("-created_at").first()
    old = {f: getattr(latest, f) for f in ADDRESS_FIELDS} if latest else {}
    if old == new:
        return latest
    if latest is None or latest.state in OPEN_STATES and not latest.documents.exists():
        submission = latest or kyc_submission_current(client=client)
        for field, value in new.items():
            setattr(submission, field, value)
        submission.save(update_fields=list(ADDRESS_FIELDS))
        recheck = False
    elif latest.state in (State.SUBMITTED, State.IN_REVIEW):
        raise InvalidInput(
            "We are checking your documents now; change your address once we have answered.",
            code="kyc_in_progress",
        )
    elif latest.state in OPEN_STATES:
        submission = latest
        for field, value in new.items():
            setattr(submission, field, value)
        submission.documents.filter(kind="proof_of_address").update(is_current=False)
        submission.step = "documents"
        submission.save(update_fields=[*ADDRESS_FIELDS, "step"])
        recheck = True
    else:
        submission = _recheck_submission(latest, new)
        recheck = True
    audit_record(
        actor=actor,
        action=audit_events.KYC_ADDRESS_CHANGED,
        target=submission,
        evidence={"from": old, "to": new, "proof_of_address_needed": recheck},
    )
    return submission


def _recheck_submission(verified: KycSubmission, address: dict) -> KycSubmission:
    """A new submission from a decided one: same person, new address, its identity documents
    carried over (the files are shared), a proof of address still to upload."""
    copied = (
        "first_name",
        "last_name",
        "date_of_birth",
        "nationality",
        "answers",
        "questionnaire_score",
        "questionnaire_outcome",
        "risk_warning_acknowledged_at",
    )
    submission = KycSubmission.objects.create(
        client=verified.client,
        step="documents",
        resubmit_documents=["proof_of_address"],
        decision_reason="Your address changed: please upload a proof of your new address.",
        **{f: getattr(verified, f) for f in copied},
        **address,
    )
    for document in verified.documents.filter(is_current=True).exclude(kind="proof_of_address"):
        document.pk = None
        document.submission = submission
        document.save()
    return submission


# --- Expiry ---------------------------------------------------------------------------------


def kyc_expiry_sweep(*, today: date | None = None) -> dict:
    """Daily: warn clients whose document expires within 30 days; restrict at expiry."""
    today = today or timezone.now().date()
    soon = today + timedelta(days=pipeline.EXPIRY_MARGIN_DAYS)
    warned = restricted = 0
    for client in Client.objects.filter(
        kyc_level__gte=1, id_document_expires_on__lte=soon
    ).select_related("user"):
        if client.id_document_expires_on < today:
            expired_on = client.id_document_expires_on
            with transaction.atomic():
                client_kyc_level_set(
                    client=client,
                    level=0,
                    actor=EXPIRY_ACTOR,
                    reason="identity document expired",
                )
                client_restrict(
                    client=client,
                    actor=EXPIRY_ACTOR,
                    reason="KYC: identity document expired; verify again",
                )
                client_notify(
                    client,
                    email="kyc_document_expired",
                    key=f"kyc:client:{client.pk}:expired:{expired_on}",
                    actor=EXPIRY_ACTOR,
                    url_name="kyc:wizard",
                )
            restricted += 1
        elif client.id_document_expires_on == soon:  # once, 30 days before
            expires_on = client.id_document_expires_on
            with transaction.atomic():
                audit_record(
                    actor=EXPIRY_ACTOR,
                    action=audit_events.KYC_EXPIRY_WARNING,
                    target=client,
                    evidence={"expires": str(expires_on)},
                )
                client_notify(
                    client,
                    email="kyc_document_expiring",
                    key=f"kyc:client:{client.pk}:expiring:{expires_on}",
                    actor=EXPIRY_ACTOR,
                    url_name="kyc:wizard",
                    context={"expires_on": expires_on},
                )
            warned += 1
    return {"warned": warned, "restricted": restricted}
