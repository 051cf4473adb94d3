"""Compliance's periodic client reviews: the queue (due dates, overdue colours, filters) and
one review with the client's rating, where an officer records the outcome."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate

from .models import PeriodicReview, ReviewOutcome, RiskLevel
from .permissions import PERM
from .rating import review_complete
from .risk import DUE_FILTERS, client_risk_summary, due_colour, review_list


class ReviewFilterForm(forms.Form):
    due = forms.ChoiceField(choices=DUE_FILTERS, required=False, label="Due")
    rating = forms.ChoiceField(
        choices=[("", "Every rating"), *RiskLevel.choices], required=False, label="Risk"
    )
    q = forms.CharField(max_length=100, required=False, label="Client")


class ReviewCompleteForm(forms.Form):
    outcome = forms.ChoiceField(choices=ReviewOutcome.choices, widget=forms.RadioSelect)
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        label="What you reviewed and found",
    )


@staff_required(PERM)
def reviews(request):
    form = ReviewFilterForm(request.GET or None, initial={"due": "due"})
    data = form.cleaned_data if form.is_valid() else {}
    due = data.get("due") or "due"
    page, query = paginate(
        request,
        review_list(
            user=request.user,
            due=due,
            rating=data.get("rating", ""),
            q=(data.get("q") or "").strip(),
        ),
    )
    today = timezone.now().date()
    rows = [{"r": r, "tone": due_colour(r.due_on, today)} for r in page]
    return render(
        request,
        "compliance/reviews.html",
        {"form": form, "page": page, "rows": rows, "query": query, "due": due, "today": today},
    )


@staff_required(PERM)
def review_detail(request, review_id: int):
    review = get_object_or_404(
        PeriodicReview.objects.select_related("client__user", "completed_by"), pk=review_id
    )
    form = ReviewCompleteForm(request.POST or None)
    if request.method == "POST":

        def complete(data):
            review_complete(review=review, actor=request.user, **data)
            messages.success(request, "Review recorded; the next one is scheduled.")

        done = form_action(request, form, complete, success_url=reverse("compliance:reviews"))
        if done is not None:
            return done
    return render(
        request,
        "compliance/review.html",
        {
            "review": review,
            "tone": due_colour(review.due_on),
            "form": form,
            "risk": client_risk_summary(review.client),
            "past": PeriodicReview.objects.filter(client=review.client, status="completed")
            .select_related("completed_by")
            .order_by("-completed_at")[:5],
        },
        status=400 if form.errors else 200,
    )


class CountryRiskForm(forms.Form):
    country = forms.ChoiceField(label="Country")
    level = forms.ChoiceField(
        choices=[("", "Low (remove from the table)"), *RiskLevel.choices[1:]],
        required=False,
        label="Risk",
    )
    note = forms.CharField(max_length=300, required=False, label="Why (e.g. FATF grey list)")

    def __init__(self, *args, **kwargs):
        from brokerage.intl import country_choices

        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose…"), *country_choices()]


@staff_required(PERM)
def country_risks(request):
    """The country risk table the rating reads for residence and nationality; a change rates
    the clients of that country again."""
    from brokerage.intl import country_name

    from .models import CountryRisk
    from .rating import country_risk_set

    form = CountryRiskForm(request.POST or None)
    if request.method == "POST":

        def save(data):
            country_risk_set(actor=request.user, **data)
            messages.success(request, "Saved: the clients of that country are rated again.")

        done = form_action(request, form, save, success_url=reverse("compliance:country_risks"))
        if done is not None:
            return done
    rows = [{"c": c, "name": country_name(c.country)} for c in CountryRisk.objects.all()]
    return render(
        request,
        "compliance/country_risks.html",
        {"form": form, "rows": rows},
        status=400 if form.errors else 200,
    )
