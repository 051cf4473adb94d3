from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("lists/", views.lists, name="lists"),
    path("lists/<id:snapshot_id>/", views.snapshot_detail, name="snapshot"),
    path("screening/", views.screening, name="screening"),
]
