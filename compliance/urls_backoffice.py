from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("lists/", views.lists, name="lists"),
    path("lists/<id:snapshot_id>/", views.snapshot_detail, name="snapshot"),
    path("screening/", views.screening, name="screening"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<id:alert_id>/", views.alert_detail, name="alert"),
]
