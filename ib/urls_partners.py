from django.urls import path

from . import views_partners

app_name = "partners"

urlpatterns = [
    path("", views_partners.home, name="home"),
    path("network/", views_partners.network, name="network"),
]
