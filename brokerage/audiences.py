"""Which of the four audiences a user belongs to, and where their home is."""

from django.urls import reverse

from .permissions import is_admin_user


def audience_of(user) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return "backoffice"
    if hasattr(user, "partner"):
        return "partners"
    return "portal"


def home_url_for(user) -> str:
    audience = audience_of(user)
    if audience == "backoffice":
        if not user.groups.exists() and is_admin_user(user):
            return reverse("admin:index")
        return reverse("backoffice:home")
    if audience == "partners":
        return reverse("partners:home")
    if audience == "portal":
        return reverse("portal:home")
    return reverse("account_login")
