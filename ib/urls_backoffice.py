from django.urls import path

from . import views_applications, views_fraud, views_links, views_plans
from . import views_backoffice as views

app_name = "ib"

urlpatterns = [
    path("", views.partners, name="partners"),
    path("partners/<id:partner_id>/", views.partner, name="partner"),
    path("plans/", views_plans.plans, name="plans"),
    path("plans/<id:plan_id>/", views_plans.plan, name="plan"),
    path("plans/versions/<id:version_id>/", views_plans.version, name="version"),
    path("periods/", views.periods, name="periods"),
    path("unpriced/", views.unpriced, name="unpriced"),
    path("fraud/", views_fraud.fraud, name="fraud"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<id:dispute_id>/", views.dispute, name="dispute"),
    path("links/", views_links.links_backoffice, name="links"),
    path("withheld/", views.withheld, name="withheld"),
    path("applications/", views_applications.applications, name="applications"),
    path(
        "applications/<id:application_id>/",
        views_applications.application,
        name="application",
    ),
    path("agreements/", views_applications.agreements, name="agreements"),
]
