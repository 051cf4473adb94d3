"""The emails clients are sent, for compliance and ops to review (/backoffice/clients/emails/):
each email of the catalogue with when it is sent, and a preview rendered with sample data in
each language there is a translation for (subject, text and HTML parts)."""

from csp.decorators import csp
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin

from brokerage.permissions import staff_required

from .emails import EMAILS, email_languages, email_preview

REVIEW = "clients.review_client_emails"


@staff_required(REVIEW)
def email_list(request):
    rows = [(e, email_preview(e.name).subject) for e in EMAILS.values()]
    return render(
        request, "clients/emails/list.html", {"rows": rows, "languages": email_languages()}
    )


def _email_and_language(request, name: str):
    email = EMAILS.get(name)
    if email is None:
        raise Http404("No such email.")
    languages = email_languages()
    language = request.GET.get("language", "en")
    return email, languages, language if language in dict(languages) else "en"


@staff_required(REVIEW)
def email_detail(request, name: str):
    email, languages, language = _email_and_language(request, name)
    return render(
        request,
        "clients/emails/detail.html",
        {
            "email": email,
            "preview": email_preview(name, language=language),
            "languages": languages,
            "language": language,
            "template_folder": f"templates/emails/clients/{name}/",
        },
    )


@staff_required(REVIEW)
@xframe_options_sameorigin
@csp({"default-src": ["'none'"], "style-src": ["'unsafe-inline'"], "frame-ancestors": ["'self'"]})
def email_html(request, name: str):
    """The HTML part alone, framed by the detail page: nothing in it may run or load."""
    _, _, language = _email_and_language(request, name)
    return HttpResponse(email_preview(name, language=language).html)
