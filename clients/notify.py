"""Emails to a client that point them to a page of the portal."""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse


def email_client(user, *, subject: str, body: str, url_name: str, args: list) -> None:
    """`body` is the message between the greeting and the portal link it ends with."""
    link = settings.SITE_URL.rstrip("/") + reverse(url_name, args=args)
    send_mail(
        subject, f"Hello {user.first_name or 'there'},\n\n{body}\n{link}\n", None, [user.email]
    )
