"""A Django test client signed in as a staff member is after password and TOTP, for benchmarks
that open back-office pages (import after `django.setup()`)."""

import time


def signed_in(user):
    from django.test import Client

    http = Client()
    http.force_login(user)
    session = http.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return http
