"""The access log, for compliance officers: which staff member opened which client's personal
data (the client 360, KYC cases and documents, source-of-funds documents, screening alerts,
dossiers), and every sign-up, sign-in and failed attempt of clients, partners and staff with
its address and browser. Both read `clients`' append-only records; neither writes."""

from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.shortcuts import render
from django.utils import timezone

from brokerage.permissions import staff_required
from brokerage.views import paginate
from clients.models import AccessRecord, PersonalDataView
from clients.selectors import access_record_list, personal_data_view_list

from .permissions import PERM

TABS = {"views": "Views of personal data", "signins": "Sign-ins"}
DEFAULT_DAYS = 7


class AccessFilterForm(forms.Form):
    q = forms.CharField(max_length=254, required=False, label="Email or IP address")
    kind = forms.ChoiceField(required=False, label="What")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, tab: str, **kwargs):
        super().__init__(*args, **kwargs)
        choices = PersonalDataView.What.choices if tab == "views" else AccessRecord.Kind.choices
        self.fields["kind"].choices = [("", "Everything"), *choices]
        if tab == "views":
            self.fields["q"].label = "Staff or client email"

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def window(self) -> tuple[datetime, datetime | None]:
        """[since, until) in UTC; the last DEFAULT_DAYS days unless dates are given."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        since, until = data.get("since"), data.get("until")
        start = (
            datetime.combine(since, time.min, tzinfo=UTC)
            if since
            else timezone.now() - timedelta(days=DEFAULT_DAYS)
        )
        if until is None or until == date.max:  # the last day there is: no end
            return start, None
        return start, datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)


@staff_required(PERM)
def access_log(request):
    tab = request.GET.get("tab", "views")
    tab = tab if tab in TABS else "views"
    form = AccessFilterForm(request.GET or None, tab=tab)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    since, until = form.window()
    q = (data.get("q") or "").strip()
    kind = data.get("kind") or ""
    if tab == "views":
        rows = personal_data_view_list(q=q, what=kind, since=since, until=until)
    else:
        rows = access_record_list(q=q, kind=kind, since=since, until=until)
    page, query = paginate(request, rows, per_page=50)
    return render(
        request,
        "compliance/access_log.html",
        {
            "tab": tab,
            "tabs": TABS,
            "form": form,
            "page": page,
            "query": query,
            "since": since,
            "failures": (AccessRecord.Kind.LOGIN_FAILED, AccessRecord.Kind.SECOND_FACTOR_FAILED),
        },
        status=400 if form.errors else 200,
    )
