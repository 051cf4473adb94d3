"""The terms: the client accepts what is due before anything else in the portal, anyone reads
a version's text, and compliance publishes new versions (/backoffice/clients/terms/)."""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from brokerage.permissions import staff_required
from brokerage.views import form_action

from .forms_terms import TermsAcceptForm, TermsPublishForm
from .models import TermsAcceptance, TermsVersion
from .permissions import client_only
from .terms import terms_accept, terms_due, terms_publish, terms_summary


@client_only
@require_http_methods(["GET", "POST"])
def terms(request):
    """What the client must accept before going on (each document with what changed, its
    text a link away, one "I accept" each), or, with nothing due, what they accepted."""
    client = request.user.client
    due = terms_due(client)
    form = TermsAcceptForm(request.POST or None, versions=due)
    status = 200
    if request.method == "POST" and due:
        done = form_action(
            request,
            form,
            lambda data: terms_accept(
                client=client, version_ids=data["version_ids"], actor=request.user, request=request
            ),
            success_url=reverse("portal:home"),
        )
        if done:
            messages.success(request, "Thank you: your acceptance is recorded.")
            return done
        status = 400
    accepted_before = {
        a.terms.document
        for a in TermsAcceptance.objects.filter(client=client).select_related("terms")
    }
    return render(
        request,
        "clients/portal/terms.html",
        {
            "due": [(v, v.document in accepted_before) for v in due],
            "form": form,
            "summary": [] if due else terms_summary(client),
        },
        status=status,
    )


def terms_text(request, version_id: int):
    """A published version's text: public, as the sign-up form links to it."""
    version = get_object_or_404(TermsVersion, pk=version_id)
    return render(request, "clients/terms_text.html", {"v": version})


@staff_required("clients.publish_terms")
@require_http_methods(["GET", "POST"])
def terms_admin(request):
    """Every version of each document with how many accepted it, and publishing a new one."""
    form, status = TermsPublishForm(request.POST or None), 200
    if request.method == "POST":
        done = form_action(
            request,
            form,
            lambda data: terms_publish(actor=request.user, **data),
            success_url=reverse("clients:terms"),
        )
        if done:
            messages.success(request, "Published.")
            return done
        status = 400
    versions = TermsVersion.objects.annotate(accepted=Count("acceptances")).order_by(
        "document", "-version"
    )
    return render(
        request,
        "clients/terms_admin.html",
        {"form": form, "versions": versions},
        status=status,
    )
