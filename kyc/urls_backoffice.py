from django.urls import path

from . import views

app_name = "kyc_review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<id:submission_id>/", views.review, name="review"),
    path("documents/<id:document_id>/", views.document, name="document"),
    path("source-of-funds/", views.sof_queue, name="sof_queue"),
    path("source-of-funds/<id:document_id>/", views.sof_review, name="sof_review"),
    path("source-of-funds/<id:document_id>/file/", views.sof_file, name="sof_file"),
]
