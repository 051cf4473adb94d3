from django.urls import path

from . import views, views_alerts, views_regions, views_reports
from .teams import TEAMS

app_name = "backoffice"

urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/<id:pk>/", views.audit_event_detail, name="audit_event"),
    path("team/", views.team, name="team"),
    path("alerts/", views_alerts.alerts_page, name="alerts"),
    path("alerts/read/", views_alerts.alerts_read, name="alerts_read"),
    path("alerts/badge/", views_alerts.alerts_badge, name="alerts_badge"),
    path("alerts/limits/<str:metric>/", views_alerts.alert_limit, name="alert_limit"),
    path("reports/", views_reports.reports_page, name="reports"),
    path("reports/<id:pk>/end/", views_reports.report_end, name="report_end"),
    path("reports/<id:pk>/preview/", views_reports.report_preview, name="report_preview"),
    path("system/", views.system_status, name="system"),
    path("regions/", views_regions.regions, name="regions"),
    path("regions/<id:pk>/", views_regions.region, name="region"),
    *(
        path(f"dashboards/{t}/", views.team_dashboard, {"team": t}, name=f"dashboard_{t}")
        for t in TEAMS
    ),
]
