import re

from django.core import mail

from tests.conftest import signup_form
from tests.finance.conftest import methods  # noqa: F401 (payment methods for deposits)
from tests.ib.test_commissions import network  # noqa: F401 (the three-level network fixture)


def signup(client, email, **form):
    """The portal sign-up form, as a visitor sends it (the address is not proven yet)."""
    response = client.post("/accounts/signup/", signup_form(email, **form))
    assert response.status_code == 302, response.content[:2000]
    return response


def confirm_email(client, email):
    """Follow the confirmation link allauth mailed to `email` (in whichever browser `client` is)."""
    message = next(m for m in reversed(mail.outbox) if m.to == [email.lower()])
    path = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+)", message.body).group(1)
    response = client.post(path)
    assert response.status_code == 302, response.content[:2000]
    return response


def signup_confirmed(client, email, **form):
    """Sign up, confirm the address, sign out again (ready for the next visitor)."""
    signup(client, email, **form)
    confirm_email(client, email)
    client.logout()
