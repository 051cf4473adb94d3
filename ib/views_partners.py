"""The IB partner area (/partners/)."""

from django.conf import settings
from django.shortcuts import render

from brokerage.views import paginate

from .permissions import partner_required
from .selectors import partner_network


@partner_required
def home(request):
    partner = request.user.partner
    return render(
        request,
        "partners/home.html",
        {
            "partner": partner,
            "referral_url": f"{settings.SITE_URL.rstrip('/')}/r/{partner.referral_code}",
            "sub_count": partner.sub_partners.count(),
            "referred_count": partner.referrals.count(),
        },
    )


@partner_required
def network(request):
    page, query = paginate(request, partner_network(partner=request.user.partner))
    return render(request, "partners/network.html", {"page": page, "query": query})
