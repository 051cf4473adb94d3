from django.urls import path

from . import views_portal, views_support, views_terms, views_trading

app_name = "portal"

urlpatterns = [
    path("", views_portal.home, name="home"),
    path("profile/", views_portal.profile, name="profile"),
    path("profile/language/", views_portal.profile_language, name="language"),
    path("trading/", views_trading.accounts, name="trading"),
    path("trading/open/", views_trading.account_open, name="account_open"),
    path("trading/<id:account_id>/", views_trading.account_detail, name="account"),
    path(
        "trading/<id:account_id>/password/",
        views_trading.account_password,
        name="account_password",
    ),
    path(
        "trading/<id:account_id>/leverage/",
        views_trading.account_leverage,
        name="account_leverage",
    ),
    path("terms/", views_terms.terms, name="terms"),
    path("terms/<id:version_id>/", views_terms.terms_text, name="terms_text"),
    path("category/", views_portal.category, name="category"),
    path("support/", views_support.support_home, name="support"),
    path("support/<id:ticket_id>/", views_support.ticket, name="ticket"),
]
