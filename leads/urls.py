from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("all/", views.all_leads, name="all"),
    path("desk/", views.desk, name="desk"),
    path("desk/leads/", views.desk_leads, name="desk_leads"),
    path("reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("desk/<int:desk_id>/sla/", views.desk_sla, name="desk_sla"),
    path("<int:lead_id>/", views.lead_detail, name="detail"),
    path("<int:lead_id>/note/", views.lead_note, name="note"),
    path("<int:lead_id>/call/", views.lead_call, name="call"),
    path("<int:lead_id>/status/", views.lead_status, name="status"),
    path("<int:lead_id>/reassign/", views.lead_reassign, name="reassign"),
    path("<int:lead_id>/callback/", views.lead_callback, name="callback"),
    path("callbacks/<int:callback_id>/done/", views.callback_done, name="callback_done"),
    path("imports/", views.import_list, name="imports"),
    path("imports/<int:import_id>/", views.import_detail, name="import"),
    path("imports/<int:import_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:import_id>/errors.csv", views.import_errors_csv, name="import_errors"),
]
