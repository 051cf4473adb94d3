from django.urls import path

from . import views_portal

app_name = "portal"

urlpatterns = [
    path("", views_portal.home, name="home"),
    path("profile/", views_portal.profile, name="profile"),
]
