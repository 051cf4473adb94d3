from django.urls import path

from . import (
    views_earnings,
    views_links,
    views_onboarding,
    views_partners,
    views_payouts,
    views_rebates,
    views_tokens,
)

app_name = "partners"

urlpatterns = [
    path("", views_partners.home, name="home"),
    path("network/", views_partners.network, name="network"),
    path("clients/", views_partners.clients, name="clients"),
    path("network/<id:partner_id>/rates/", views_partners.sub_rates, name="sub_rates"),
    path("commissions/", views_partners.commissions, name="commissions"),
    path("statements/", views_partners.statements, name="statements"),
    path("commissions/<id:line_id>/dispute/", views_partners.dispute_new, name="dispute_new"),
    path("disputes/", views_partners.disputes, name="disputes"),
    path(
        "statements/<id:statement_id>.<slug:fmt>",
        views_partners.statement_download,
        name="statement_download",
    ),
    path("earnings/", views_earnings.earnings, name="earnings"),
    path("payouts/", views_payouts.payouts, name="payouts"),
    path("payouts/request/", views_payouts.payout_request, name="payout_request"),
    path("links/", views_links.links, name="links"),
    path("links/<id:link_id>/", views_links.link, name="link"),
    path("rebates/", views_rebates.rebates, name="rebates"),
    path("api/", views_tokens.api_tokens, name="api_tokens"),
    path("api/<id:token_id>/revoke/", views_tokens.api_token_revoke, name="api_token_revoke"),
    path("signup/", views_onboarding.partner_signup, name="signup"),
    path("join/<str:token>/", views_onboarding.partner_signup, name="join"),
    path("application/", views_onboarding.application, name="application"),
    path("agreement/", views_onboarding.agreement, name="agreement"),
    path("invitations/", views_onboarding.invitations, name="invitations"),
    path(
        "invitations/<id:invitation_id>/withdraw/",
        views_onboarding.invitation_withdraw_view,
        name="invitation_withdraw",
    ),
]
