from django.urls import path

from . import views_backoffice as views
from . import views_emails, views_leverage, views_terms

app_name = "clients"

urlpatterns = [
    path("", views.client_list, name="list"),
    path("all/", views.client_list_all, name="all"),
    path("deals/", views.deal_list, name="deals"),
    path("positions/", views.position_list, name="positions"),
    path("<id:client_id>/", views.client_detail, name="detail"),
    path("<id:client_id>/note/", views.client_note, name="note"),
    path("<id:client_id>/call/", views.client_call, name="call"),
    path("<id:client_id>/leverage/", views_leverage.client_leverage, name="leverage"),
    path("tickets/", views.ticket_queue, name="tickets"),
    path("tickets/<id:ticket_id>/", views.ticket_detail, name="ticket"),
    path("terms/", views_terms.terms_admin, name="terms"),
    path("emails/", views_emails.email_list, name="emails"),
    path("emails/<slug:name>/", views_emails.email_detail, name="email"),
    path("emails/<slug:name>/html/", views_emails.email_html, name="email_html"),
]
