from django.urls import path

from . import views_platforms

app_name = "platforms"

urlpatterns = [
    path("", views_platforms.status, name="status"),
]
