from django.urls import path

from . import views, views_jurisdictions

app_name = "compliance"

urlpatterns = [
    path("lists/", views.lists, name="lists"),
    path("lists/<id:snapshot_id>/", views.snapshot_detail, name="snapshot"),
    path("screening/", views.screening, name="screening"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<id:alert_id>/", views.alert_detail, name="alert"),
    path("jurisdictions/", views_jurisdictions.jurisdictions, name="jurisdictions"),
    path(
        "jurisdictions/<str:country>/",
        views_jurisdictions.jurisdiction_country,
        name="jurisdiction",
    ),
]
