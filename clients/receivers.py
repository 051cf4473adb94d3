from allauth.account.models import EmailAddress
from django.db import transaction

from brokerage.errors import InvalidInput

from .access import access_failure_record, access_record
from .models import AccessRecord, Client
from .selectors import client_for_user
from .services import client_register
from .signals import (
    REFERRAL_COOKIE,
    REFERRAL_MAX_AGE,
    REFERRAL_SALT,
    signed_up,
    signup_verified,
)
from .terms import terms_accept

CLIENT, PARTNER = "client", "partner"
RECORD_FIELDS = ("country", "phone", "language")


def _referral_code(request) -> str:
    if request is None:
        return ""
    code = request.get_signed_cookie(
        REFERRAL_COOKIE, default=None, salt=REFERRAL_SALT, max_age=REFERRAL_MAX_AGE
    )
    return code or ""


def on_user_signed_up(sender, request, user, **kwargs):
    """Someone signed up on a public form: a client gets their record (staff and partners made
    by ops never come this way); then the apps above are told, once."""
    kind = getattr(user, "signup_kind", CLIENT)
    profile = {
        k: v
        for k, v in getattr(user, "signup_profile", {}).items()
        if k != "email" and v not in (None, "")
    }
    with transaction.atomic():
        if kind == CLIENT:
            client = client_register(
                user=user,
                actor=user,
                request=request,
                **{k: profile[k] for k in RECORD_FIELDS if k in profile},
            )
            _terms_accepted(client, user, request)
        access_record(user=user, kind=AccessRecord.Kind.SIGNUP, request=request)
        if request is not None:
            request._signup_recorded = user.pk
        signed_up.send(
            sender=Client,
            kind=kind,
            user=user,
            request=request,
            email=user.email,
            profile=profile,
            referral_code=_referral_code(request),
        )
        if EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
            _verified(user, request)


def _terms_accepted(client, user, request) -> None:
    """The terms the sign-up form showed and the visitor accepted; one published meanwhile is
    asked for by the portal before anything else."""
    try:
        with transaction.atomic():
            terms_accept(
                client=client,
                version_ids=getattr(user, "signup_terms", []),
                actor=user,
                request=request,
            )
    except InvalidInput:
        pass


def on_user_logged_in(sender, request, user, **kwargs):
    """A successful sign-in (after the second factor, for staff): one record of where from; a
    sign-up that signs the user in at once is recorded once, as the sign-up."""
    if getattr(request, "_signup_recorded", None) == user.pk:
        return
    access_record(user=user, kind=AccessRecord.Kind.LOGIN, request=request)


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    """A wrong password or an address nobody has (Django masks the password in `credentials`)."""
    typed = credentials.get("email") or credentials.get("username") or credentials.get("login")
    access_failure_record(
        kind=AccessRecord.Kind.LOGIN_FAILED, identifier=str(typed or ""), request=request
    )


def on_second_factor_failed(sender, request, user, reauthentication=False, **kwargs):
    """A wrong TOTP or recovery code after a right password."""
    access_failure_record(kind=AccessRecord.Kind.SECOND_FACTOR_FAILED, user=user, request=request)


def on_email_confirmed(sender, request, email_address, **kwargs):
    """The address a client or partner signed up with is proven."""
    user = email_address.user
    if user.is_staff or email_address.email.lower() != user.email.lower():
        return
    with transaction.atomic():
        _verified(user, request)


def _verified(user, request) -> None:
    client = client_for_user(user)
    profile = {"first_name": user.first_name, "last_name": user.last_name}
    if client is not None:
        profile.update({k: getattr(client, k) for k in RECORD_FIELDS})
    signup_verified.send(
        sender=Client,
        kind=CLIENT if client is not None else PARTNER,
        user=user,
        request=request,
        email=user.email.lower(),
        profile={k: v for k, v in profile.items() if v not in (None, "")},
    )
