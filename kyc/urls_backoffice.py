from django.urls import path

from . import views

app_name = "kyc_review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<id:submission_id>/", views.review, name="review"),
    path("documents/<id:document_id>/", views.document, name="document"),
]
