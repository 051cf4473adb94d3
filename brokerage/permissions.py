"""Access checks for views: who may open a page, decided once per audience.

Anonymous visitors are sent to the login page; a signed-in user without the right gets 403.
Object-level scoping happens in selectors.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .errors import NotAllowed
from .roles import ADMIN_ROLES, role_of


def actor_require(actor, perm: str, message: str) -> None:
    """A service's own check on who decides, whoever calls it: a user holding `perm`, or a
    named system rule (an actor given as a string, e.g. "rule:kyc_autocheck"). NotAllowed,
    with `message`, for anyone else."""
    if isinstance(actor, str):
        if not actor:
            raise NotAllowed(message)
        return
    if not actor.has_perm(perm):
        raise NotAllowed(message)


def require(test, message="You do not have access to this page."):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user.is_active or not test(user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def is_staff_with(perm: str):
    return lambda user: user.is_staff and (user.is_superuser or user.has_perm(perm))


def staff_required(perm: str = "brokerage.access_backoffice"):
    """A back-office view: staff only, holding `perm` (every role holds access_backoffice)."""
    return require(is_staff_with(perm), "Your role does not include this page.")


def is_admin_user(user) -> bool:
    return user.is_active and user.is_staff and (user.is_superuser or role_of(user) in ADMIN_ROLES)
