from django.urls import path

from . import views_retention as views

app_name = "retention"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("flags/<id:flag_id>/", views.flag_detail, name="flag"),
    path("flags/<id:flag_id>/action/", views.action, name="action"),
    path("settings/", views.policies, name="settings"),
]
