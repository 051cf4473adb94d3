"""Client dossiers for compliance officers: ask for one (by client number, or from the 360),
watch it being built, download it. Each download is audited and in the access log."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from brokerage.permissions import staff_required
from brokerage.uploads import stored_document_response
from brokerage.views import form_action, paginate
from clients.models import Client

from .dossier import dossier_downloaded, dossier_request
from .models import DossierExport, JobStatus
from .permissions import PERM


class DossierRequestForm(forms.Form):
    client = forms.IntegerField(min_value=1, max_value=2**63 - 1, label="Client number")

    def clean_client(self):
        pk = self.cleaned_data["client"]
        if not Client.objects.filter(pk=pk, holder=Client.Holder.CLIENT).exists():
            raise forms.ValidationError("No client has this number.")
        return pk


def _exports():
    return DossierExport.objects.select_related("client__user", "requested_by")


@staff_required(PERM)
@require_http_methods(["GET", "POST"])
def dossiers(request):
    form = DossierRequestForm(request.POST or None)
    if request.method == "POST":

        def ask(data):
            dossier_request(client_id=data["client"], actor=request.user)
            messages.success(request, "The dossier is being prepared; it appears below when done.")

        done = form_action(request, form, ask, success_url=reverse("compliance:dossiers"))
        if done is not None:
            return done
    page, query = paginate(request, _exports(), per_page=20)
    return render(
        request,
        "compliance/dossiers.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "running": any(e.running for e in page),
        },
        status=400 if form.errors else 200,
    )


@staff_required(PERM)
def dossier_rows(request):
    """The first page of exports, polled while one is being built."""
    page, query = paginate(request, _exports(), per_page=20)
    return render(
        request,
        "compliance/_dossier_rows.html",
        {"page": page, "running": any(e.running for e in page)},
    )


@staff_required(PERM)
def dossier_download(request, export_id: int):
    export = get_object_or_404(DossierExport, pk=export_id)
    if export.status != JobStatus.DONE or not export.file:
        raise Http404("This dossier is not ready.")
    dossier_downloaded(export=export, actor=request.user, request=request)
    return stored_document_response(
        export.file, content_type="application/zip", filename=export.file.name.rsplit("/", 1)[-1]
    )


@staff_required(PERM)
@require_http_methods(["POST"])
def dossier_for_client(request, client_id: int):
    """The 360's button: queue the dossier of this client and show the list."""
    if not Client.objects.filter(pk=client_id).exists():
        raise Http404("No such client.")
    dossier_request(client_id=client_id, actor=request.user)
    messages.success(request, "The dossier is being prepared; it appears below when done.")
    return redirect("compliance:dossiers")
