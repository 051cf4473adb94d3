"""Campaign links: the partner's own (/partners/links/) and every partner's for IB managers
(/backoffice/ib/links/), each with its funnel."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from brokerage.permissions import staff_required
from brokerage.views import form_action, paginate

from .links import campaign_link_create, landing_url
from .models import Partner
from .models_links import LANDING_CHOICES
from .permissions import partner_required
from .selectors_links import (
    STAGES,
    link_clicks_per_day,
    link_funnels,
    links_overview,
    partner_funnel,
    partner_links,
)

TAG = {"max_length": 64, "required": False}


class CampaignLinkForm(forms.Form):
    name = forms.CharField(max_length=80, label="Campaign", help_text="e.g. “Spring webinar”.")
    landing = forms.ChoiceField(choices=LANDING_CHOICES, label="Lands on")
    sub_id = forms.CharField(**TAG, label="Sub-id", help_text="Optional: your own tracking id.")
    utm_source = forms.CharField(**TAG, label="UTM source")
    utm_medium = forms.CharField(**TAG, label="UTM medium")
    utm_campaign = forms.CharField(**TAG, label="UTM campaign")


def short_url(link) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/r/{link.code}"


def funnel_chart(chart_id: str, funnel: dict) -> dict:
    return {
        "id": chart_id,
        "kind": "bar",
        "labels": [s["label"] for s in funnel["stages"]],
        "datasets": [{"label": "Visitors", "data": [s["count"] for s in funnel["stages"]]}],
        "log": True,
    }


@partner_required
@require_http_methods(["GET", "POST"])
def links(request):
    partner = request.user.partner
    form, status = CampaignLinkForm(request.POST or None), 200
    if request.method == "POST":
        made = []
        response = form_action(
            request,
            form,
            lambda c: made.append(campaign_link_create(partner=partner, actor=request.user, **c)),
            success_url=reverse("partners:links"),
        )
        if response is not None:
            messages.success(request, f"Link “{made[0].name}” made: {short_url(made[0])}")
            return response
        status = 400
    page, query = paginate(request, partner_links(partner=partner), per_page=20)
    funnels = link_funnels(page)
    rows = [{"link": link, "url": short_url(link), **funnels[link.pk]} for link in page]
    total = partner_funnel(partner=partner)
    return render(
        request,
        "partners/links.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "rows": rows,
            "total": total,
            "stages": STAGES,
            "referral_url": f"{settings.SITE_URL.rstrip('/')}/r/{partner.referral_code}",
            "charts": [funnel_chart("funnel-all", total)],
        },
        status=status,
    )


@partner_required
def link(request, link_id: int):
    """One of the partner's own links (another partner's is a 404): funnel and clicks per day."""
    partner = request.user.partner
    item = get_object_or_404(partner_links(partner=partner), pk=link_id)
    funnel = link_funnels([item])[item.pk]
    days, clicks = link_clicks_per_day(link=item)
    charts = [
        funnel_chart("funnel-link", funnel),
        {
            "id": "clicks-by-day",
            "kind": "bar",
            "labels": [d[5:] for d in days],
            "datasets": [{"label": "Clicks", "data": clicks}],
        },
    ]
    return render(
        request,
        "partners/link.html",
        {
            "item": item,
            "url": short_url(item),
            "landing": landing_url(item),
            "funnel": funnel,
            "charts": charts,
        },
    )


@staff_required("ib.manage_commissions")
def links_backoffice(request):
    """Every partner's campaign links with their funnels: search, filters, pages."""
    q = request.GET.get("q", "").strip()[:100]
    landing = request.GET.get("landing", "")
    partner_status = request.GET.get("status", "")
    converting = request.GET.get("converting") == "1"
    qs = links_overview(q=q, landing=landing, partner_status=partner_status, converting=converting)
    page, query = paginate(request, qs)
    funnels = link_funnels(page)
    rows = [{"link": link, "url": short_url(link), **funnels[link.pk]} for link in page]
    return render(
        request,
        "ib/links.html",
        {
            "page": page,
            "query": query,
            "rows": rows,
            "q": q,
            "landing": landing,
            "status": partner_status,
            "converting": converting,
            "landings": LANDING_CHOICES,
            "statuses": Partner.Status.choices,
        },
    )
