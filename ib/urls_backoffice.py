from django.urls import path

from . import views_backoffice as views

app_name = "ib"

urlpatterns = [
    path("", views.partners, name="partners"),
    path("partners/<id:partner_id>/", views.partner, name="partner"),
    path("periods/", views.periods, name="periods"),
    path("unpriced/", views.unpriced, name="unpriced"),
]
