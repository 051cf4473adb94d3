from .services import client_register


def on_user_signed_up(sender, request, user, **kwargs):
    """Everyone who signs up on the public form is a client (staff and IBs are created by ops)."""
    profile = getattr(user, "signup_profile", {})
    client_register(
        user=user,
        actor=user,
        request=request,
        **{k: profile[k] for k in ("country", "phone", "language") if profile.get(k)},
    )
