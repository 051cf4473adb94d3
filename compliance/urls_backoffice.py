from django.urls import path

from . import (
    views,
    views_access,
    views_cases,
    views_dossier,
    views_jurisdictions,
    views_leverage,
    views_reviews,
    views_workspace,
)
from .monitoring import views as monitoring_views

app_name = "compliance"

urlpatterns = [
    path("", views_workspace.workspace, name="workspace"),
    path("lists/", views.lists, name="lists"),
    path("lists/jobs/", views.jobs, name="jobs"),
    path("lists/<id:snapshot_id>/", views.snapshot_detail, name="snapshot"),
    path("screening/", views.screening, name="screening"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<id:alert_id>/", views.alert_detail, name="alert"),
    path("monitoring/alerts/", monitoring_views.alerts, name="aml_alerts"),
    path("monitoring/alerts/<id:alert_id>/", monitoring_views.alert_detail, name="aml_alert"),
    path("monitoring/scenarios/", monitoring_views.scenarios, name="aml_scenarios"),
    path(
        "monitoring/scenarios/<slug:code>/", monitoring_views.scenario_detail, name="aml_scenario"
    ),
    path("cases/", views_cases.cases, name="cases"),
    path("cases/new/", views_cases.case_new, name="case_new"),
    path("cases/<id:case_id>/", views_cases.case_detail, name="case"),
    path(
        "cases/<id:case_id>/files/<id:attachment_id>/",
        views_cases.case_attachment,
        name="case_attachment",
    ),
    path("cases/<id:case_id>/report.<str:fmt>", views_cases.case_report_file, name="case_report"),
    path("jurisdictions/", views_jurisdictions.jurisdictions, name="jurisdictions"),
    path(
        "jurisdictions/<str:country>/",
        views_jurisdictions.jurisdiction_country,
        name="jurisdiction",
    ),
    path("leverage/", views_leverage.leverage_limits, name="leverage_limits"),
    path(
        "leverage/<id:limit_id>/remove/",
        views_leverage.leverage_limit_delete,
        name="leverage_limit_remove",
    ),
    path("categories/", views_leverage.category_requests, name="category_requests"),
    path("categories/<id:request_id>/", views_leverage.category_request, name="category_request"),
    path("reviews/", views_reviews.reviews, name="reviews"),
    path("reviews/<id:review_id>/", views_reviews.review_detail, name="review"),
    path("country-risk/", views_reviews.country_risks, name="country_risks"),
    path("access-log/", views_access.access_log, name="access_log"),
    path("dossiers/", views_dossier.dossiers, name="dossiers"),
    path("dossiers/rows/", views_dossier.dossier_rows, name="dossier_rows"),
    path(
        "dossiers/<id:export_id>/download/",
        views_dossier.dossier_download,
        name="dossier_download",
    ),
    path(
        "dossiers/client/<id:client_id>/",
        views_dossier.dossier_for_client,
        name="dossier_for_client",
    ),
]
