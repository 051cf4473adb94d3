from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("all/", views.all_leads, name="all"),
    path("desk/", views.desk, name="desk"),
    path("desk/leads/", views.desk_leads, name="desk_leads"),
    path("figures/", views.figures_leads, name="figures"),
    path("reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("desk/<id:desk_id>/sla/", views.desk_sla, name="desk_sla"),
    path("<id:lead_id>/", views.lead_detail, name="detail"),
    path("<id:lead_id>/note/", views.lead_note, name="note"),
    path("<id:lead_id>/call/", views.lead_call, name="call"),
    path("<id:lead_id>/email/", views.lead_email, name="email"),
    path("<id:lead_id>/status/", views.lead_status, name="status"),
    path("<id:lead_id>/reassign/", views.lead_reassign, name="reassign"),
    path("<id:lead_id>/callback/", views.lead_callback, name="callback"),
    path("callbacks/<id:callback_id>/done/", views.callback_done, name="callback_done"),
    path("imports/", views.import_list, name="imports"),
    path("imports/<id:import_id>/", views.import_detail, name="import"),
    path("imports/<id:import_id>/progress/", views.import_progress, name="import_progress"),
    path("imports/<id:import_id>/errors.csv", views.import_errors_csv, name="import_errors"),
]
