"""The emails clients are sent, for compliance and ops to review (/backoffice/clients/emails/):
each email of the catalogue with when it is sent, and a preview rendered with sample data in
each language there is a translation for (subject, text and HTML parts)."""

from django.http import Http404
from django.shortcuts import render

from brokerage.permissions import staff_required

from .emails import EMAILS, email_languages, email_preview

REVIEW = "clients.review_client_emails"


@staff_required(REVIEW)
def email_list(request):
    rows = [(e, email_preview(e.name).subject) for e in EMAILS.values()]
    return render(
        request, "clients/emails/list.html", {"rows": rows, "languages": email_languages()}
    )


@staff_required(REVIEW)
def email_detail(request, name: str):
    email = EMAILS.get(name)
    if email is None:
        raise Http404("No such email.")
    languages = email_languages()
    language = request.GET.get("language", "en")
    if language not in dict(languages):
        language = "en"
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
