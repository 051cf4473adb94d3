"""KYC in the portal (the client's wizard) and in the back-office (the review queue)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from brokerage.errors import DomainError, NotAllowed
from brokerage.permissions import require, staff_required
from brokerage.uploads import stored_document_response
from brokerage.views import add_domain_error, form_action, paginate
from clients.access import personal_data_viewed
from clients.models import PersonalDataView
from clients.permissions import client_required, is_client

from . import financial_profile, icao, selectors, services
from .forms import (
    AddressForm,
    DetailsForm,
    DocumentForm,
    FinancialProfileForm,
    QuestionnaireForm,
    ReviewForm,
    SourceOfFundsDecisionForm,
    SourceOfFundsForm,
)
from .models import KycDocument, KycSubmission, SourceOfFundsDocument
from .questionnaire import QUESTIONS


@client_required
@require_http_methods(["POST"])
def address_change(request):
    """The address card of the portal profile: a new address, and for a verified client the
    wizard next, asking for a proof of it."""
    from clients.views_portal import profile_page

    client = request.user.client
    form = AddressForm(request.POST)
    if form.is_valid():
        try:
            submission = services.kyc_address_change(
                client=client, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if submission is not None and submission.step == "documents" and client.kyc_level:
                messages.info(request, "Address saved. Please upload a proof of your new address.")
                return redirect("kyc:wizard")
            messages.success(request, "Address saved.")
            return redirect("portal:profile")
    return profile_page(request, forms={"address": form}, status=400)


@client_required
@require_http_methods(["GET", "POST"])
def wizard(request):
    submission = services.kyc_submission_current(client=request.user.client)
    step = request.POST.get("step") or request.GET.get("step") or submission.step
    details = DetailsForm(initial={f: getattr(submission, f) for f in DetailsForm.base_fields})
    quiz = QuestionnaireForm(initial=submission.answers)
    finances = FinancialProfileForm(initial=_profile_initial(request.user.client))
    upload = DocumentForm()
    submit_errors: list[str] = []
    if request.method == "POST":
        try:
            if step == "details":
                details = DetailsForm(request.POST)
                if details.is_valid():
                    services.kyc_details_save(
                        submission=submission, actor=request.user, data=details.cleaned_data
                    )
                    return redirect("kyc:wizard")
            elif step == "questionnaire":
                quiz = QuestionnaireForm(request.POST)
                if quiz.is_valid():
                    services.kyc_questionnaire_save(
                        submission=submission,
                        actor=request.user,
                        answers=quiz.answers(),
                        acknowledge_warning=quiz.cleaned_data["acknowledge_warning"],
                    )
                    return redirect("kyc:wizard")
            elif step == "finances":
                finances = FinancialProfileForm(request.POST)
                if finances.is_valid():
                    financial_profile.kyc_finances_step_save(
                        submission=submission, actor=request.user, data=finances.cleaned_data
                    )
                    return redirect("kyc:wizard")
            elif step == "documents":
                upload = DocumentForm(request.POST, request.FILES)
                if upload.is_valid():
                    services.kyc_document_upload(
                        submission=submission,
                        actor=request.user,
                        kind=upload.cleaned_data["kind"],
                        side=upload.cleaned_data["side"],
                        uploaded_file=upload.cleaned_data["file"],
                    )
                    messages.success(request, "Document received.")
                    return redirect(f"{request.path}?step=documents")
            elif step == "submit":
                services.kyc_submission_submit(submission=submission, actor=request.user)
                messages.success(request, "Thank you: we are checking your documents now.")
                return redirect("kyc:wizard")
        except DomainError as exc:
            form = {
                "details": details,
                "questionnaire": quiz,
                "finances": finances,
                "documents": upload,
            }.get(step)
            if form is not None and form.is_bound:
                add_domain_error(form, exc)
            else:  # the submit step has no form: list what is missing
                submit_errors = [exc.message] + [m for ms in exc.fields.values() for m in ms]
        status = 400
    else:
        status = 200
    submission = KycSubmission.objects.get(pk=submission.pk)  # as the services left it
    ctx = {
        "submission": submission,
        "step": step,
        "details_form": details,
        "quiz_form": quiz,
        "finances_form": finances,
        "upload_form": upload,
        "documents": submission.documents.filter(is_current=True),
        "editable": submission.state in services.OPEN_STATES,
        "questions": QUESTIONS,
        "submit_errors": submit_errors,
    }
    return render(request, "kyc/wizard.html", ctx, status=status)


def _profile_initial(client) -> dict:
    current = financial_profile.financial_profile_current(client)
    if current is None:
        return {"currency": "USD"}
    return {f: getattr(current, f) for f in financial_profile.PROFILE_FIELDS}


@client_required
@require_http_methods(["GET", "POST"])
def finances(request):
    """The client's finances: the financial profile they declared (changed here at any time, a
    new version each time) and their source-of-funds documents."""
    client = request.user.client
    form = FinancialProfileForm(initial=_profile_initial(client))
    upload = SourceOfFundsForm()
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("part") == "sof":
                upload = SourceOfFundsForm(request.POST, request.FILES)
                if upload.is_valid():
                    financial_profile.sof_document_upload(
                        client=client,
                        actor=request.user,
                        description=upload.cleaned_data["description"],
                        uploaded_file=upload.cleaned_data["file"],
                    )
                    messages.success(request, "Document received: compliance will review it.")
                    return redirect("kyc:finances")
            else:
                form = FinancialProfileForm(request.POST)
                if form.is_valid():
                    financial_profile.financial_profile_save(
                        client=client, actor=request.user, data=form.cleaned_data
                    )
                    messages.success(request, "Your financial details are saved.")
                    return redirect("kyc:finances")
        except DomainError as exc:
            add_domain_error(upload if request.POST.get("part") == "sof" else form, exc)
        status = 400
    return render(
        request,
        "kyc/finances.html",
        {
            "form": form,
            "upload_form": upload,
            "current": financial_profile.financial_profile_current(client),
            "documents": SourceOfFundsDocument.objects.filter(client=client)[:20],
        },
        status=status,
    )


@staff_required("kyc.review_kyc")
def sof_queue(request):
    status = request.GET.get("status", "in_review")
    status = (
        status if status in SourceOfFundsDocument.Status.values or status == "" else "in_review"
    )
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(
        request, selectors.sof_queue(user=request.user, status=status, q=q), per_page=20
    )
    now = timezone.now()
    rows = [{"d": d, "age": selectors.age_colour(d.uploaded_at, now)} for d in page]
    return render(
        request,
        "kyc/sof_queue.html",
        {
            "page": page,
            "rows": rows,
            "query": query,
            "status": status,
            "q": q,
            "statuses": SourceOfFundsDocument.Status.choices,
        },
    )


@staff_required("kyc.review_kyc")
@require_http_methods(["GET", "POST"])
def sof_review(request, document_id: int):
    document = get_object_or_404(
        SourceOfFundsDocument.objects.select_related("client__user", "decided_by"),
        pk=document_id,
    )
    form = SourceOfFundsDecisionForm(request.POST or None)
    if request.method == "POST":

        def decide(data):
            approve = data["action"] == "approve"
            service = (
                financial_profile.sof_document_approve
                if approve
                else financial_profile.sof_document_reject
            )
            service(document=document, actor=request.user, reason=data["reason"])
            messages.success(request, "Decision recorded; the client is told by email.")

        done = form_action(request, form, decide, success_url=reverse("kyc_review:sof_queue"))
        if done is not None:
            return done
    personal_data_viewed(
        request=request,
        client_id=document.client_id,
        what=PersonalDataView.What.SOURCE_OF_FUNDS,
        detail=f"review of document {document.pk}",
    )
    return render(
        request,
        "kyc/sof_review.html",
        {
            "d": document,
            "form": form,
            "profile": financial_profile.financial_profile_current(document.client),
        },
        status=400 if form.errors else 200,
    )


@require(lambda u: is_client(u) or u.has_perm("kyc.review_kyc"))
def sof_file(request, document_id: int):
    try:
        document = selectors.sof_document_for(user=request.user, document_id=document_id)
    except SourceOfFundsDocument.DoesNotExist as exc:
        raise Http404 from exc
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    extension = document.file.name.rsplit(".", 1)[-1]
    personal_data_viewed(
        request=request,
        client_id=document.client_id,
        what=PersonalDataView.What.SOURCE_OF_FUNDS,
        detail=f"document {document.pk}",
    )
    return stored_document_response(
        document.file, content_type=document.content_type, filename=f"source-of-funds.{extension}"
    )


def _serve(request, document_id):
    try:
        document = selectors.document_for(user=request.user, document_id=document_id)
    except KycDocument.DoesNotExist as exc:
        raise Http404 from exc
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    extension = document.file.name.rsplit(".", 1)[-1]
    personal_data_viewed(
        request=request,
        client_id=document.submission.client_id,
        what=PersonalDataView.What.KYC_DOCUMENT,
        detail=f"{document.get_kind_display()} (document {document.pk})",
    )
    return stored_document_response(
        document.file, content_type=document.content_type, filename=f"{document.kind}.{extension}"
    )


@require(lambda u: is_client(u) or u.has_perm("kyc.review_kyc"))
def document(request, document_id: int):
    return _serve(request, document_id)


@staff_required("kyc.review_kyc")
def queue(request):
    state = request.GET.get("state", "in_review")
    state = state if state in KycSubmission.State.values or state == "" else "in_review"
    q = request.GET.get("q", "").strip()[:100]
    page, query = paginate(request, selectors.review_queue(user=request.user, state=state, q=q))
    now = timezone.now()
    rows = [{"s": s, "sla": selectors.sla_colour(s, now)} for s in page]
    return render(
        request,
        "kyc/queue.html",
        {
            "page": page,
            "rows": rows,
            "query": query,
            "state": state,
            "q": q,
            "states": KycSubmission.State.choices,
        },
    )


@staff_required("kyc.review_kyc")
@require_http_methods(["GET", "POST"])
def review(request, submission_id: int):
    submission = get_object_or_404(
        KycSubmission.objects.select_related("client__user"), pk=submission_id
    )
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "approve":
                services.kyc_review_approve(
                    submission=submission, actor=request.user, reason=data["reason"]
                )
            elif data["action"] == "reject":
                services.kyc_review_reject(
                    submission=submission, actor=request.user, reason=data["reason"]
                )
            else:
                services.kyc_review_request_resubmission(
                    submission=submission,
                    actor=request.user,
                    documents=data["documents"],
                    message=data["reason"],
                )
        except NotAllowed as exc:
            form.add_error(None, exc.message)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Decision recorded.")
            return redirect("kyc_review:queue")
    checks = selectors.latest_checks(submission)
    mrz = next((c.compared for c in checks if c.name == "mrz"), {})
    ctx = {
        "s": submission,
        "form": form,
        "checks": checks,
        "mrz": mrz,
        "registered_nationality": icao.country_label(submission.nationality),
        "documents": submission.documents.filter(is_current=True),
        "sla": selectors.sla_colour(submission),
        "profile": financial_profile.financial_profile_current(submission.client),
    }
    personal_data_viewed(
        request=request,
        client_id=submission.client_id,
        what=PersonalDataView.What.KYC_CASE,
        detail=f"case {submission.pk}",
    )
    return render(request, "kyc/review.html", ctx, status=400 if form.errors else 200)
