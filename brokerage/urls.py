from functools import wraps

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import include, path

from . import views
from .api import api
from .permissions import is_admin_user

api.add_router("/leads/", "leads.api.router")
api.add_router("/webhooks/", "finance.api.router")
api.add_router("/partners/", "ib.api.router")


def admin_login(login_view):
    """Django admin is ops configuration: only the ops admin role, and only after the product's
    own login (password + TOTP); the admin's own password-only form is never shown."""
    secured = secure_admin_login(login_view)

    @wraps(login_view)
    def view(request, *args, **kwargs):
        if request.user.is_authenticated and not is_admin_user(request.user):
            raise PermissionDenied("The ops admin is for the ops admin role.")
        return secured(request, *args, **kwargs)

    return view


admin.site.login = admin_login(admin.site.login)
admin.site.site_header = "Brokerage operations"
admin.site.site_title = "Brokerage ops"
admin.site.index_title = "Configuration"

urlpatterns = [
    path("", views.root, name="root"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("backoffice/", include("brokerage.urls_backoffice")),
    path("backoffice/leads/", include("leads.urls")),
    path("unsubscribe/", include("leads.urls_public")),
    path("portal/", include("clients.urls_portal")),
    path("backoffice/clients/", include("clients.urls_backoffice")),
    path("backoffice/retention/", include("clients.urls_retention")),
    path("backoffice/platforms/", include("clients.urls_platforms")),
    path("portal/", include("kyc.urls")),
    path("backoffice/kyc/", include("kyc.urls_backoffice")),
    path("portal/wallet/", include("finance.urls_portal")),
    path("backoffice/finance/", include("finance.urls_backoffice")),
    path("backoffice/ib/", include("ib.urls_backoffice")),
    path("backoffice/compliance/", include("compliance.urls_backoffice")),
    path("partners/", include("ib.urls_partners")),
    path("r/", include("ib.urls_public")),
    path("api/v1/", api.urls),
]

handler400 = "brokerage.views.bad_request"
handler403 = "brokerage.views.permission_denied"
handler404 = "brokerage.views.page_not_found"
handler500 = "brokerage.views.server_error"
