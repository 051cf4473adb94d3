"""Emails to a client that point them to a page of the portal.

- `email_client`: the email itself (call it after commit).
- `client_notify`: a state change the client waits for (money credited, sent, paid,
  returned): recorded in the client's communication history in the caller's transaction, and
  emailed once that transaction commits.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from brokerage.mail import email_send, header_value


def email_client(user, *, subject: str, body: str, url_name: str, args: list) -> None:
    """`body` is the message between the greeting and the portal link it ends with."""
    link = settings.SITE_URL.rstrip("/") + reverse(url_name, args=args)
    email_send(
        subject=subject,
        body=f"Hello {user.first_name or 'there'},\n\n{body}\n{link}\n",
        to=[user.email],
    )


def client_notify(
    client, *, subject: str, body: str, url_name: str, args: list, actor_label: str, data=None
):
    """Record the email in the client's communication history now; send it after commit."""
    from .models import ClientActivity

    activity = ClientActivity.objects.create(
        client=client,
        kind=ClientActivity.Kind.EMAIL,
        actor_label=actor_label[:254],
        subject=header_value(subject)[:200],
        body=body,
        data=data or {},
    )
    user = client.user
    transaction.on_commit(
        lambda: email_client(user, subject=subject, body=body, url_name=url_name, args=args)
    )
    return activity
