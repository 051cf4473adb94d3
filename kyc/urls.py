from django.urls import path

from . import views

app_name = "kyc"

urlpatterns = [
    path("verify/", views.wizard, name="wizard"),
    path("profile/address/", views.address_change, name="address"),
    path("verify/documents/<id:document_id>/", views.document, name="document"),
    path("finances/", views.finances, name="finances"),
    path("finances/documents/<id:document_id>/", views.sof_file, name="sof_file"),
]
