"""The one way a client is emailed about a state change they wait for.

`client_notify(client, email=..., key=..., context=..., url_name=..., actor=...)`, called in
the transaction that makes the change:
- renders the email `email` of the catalogue (`clients.emails`: one template folder, subject,
  text and HTML) in the client's language (English where there is no translation);
- records it in the client's communication history (a `ClientActivity` of kind email, shown
  in the client 360) under `key`, the event it tells: the key is unique in the database, so
  a transition or a webhook run again records nothing and sends nothing a second time;
- sends it once that transaction commits (`transaction.on_commit`) through the product's one
  sending seam (`brokerage.mail.email_send`: every header value on one line), and marks the
  entry sent. A send that fails is logged and left unsent
  (`sent_at` empty) in the history; the state change itself stands.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from brokerage.mail import email_send
from brokerage.services import Actor

from .emails import email_render

log = logging.getLogger(__name__)


def _actor_label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else (actor.email or str(actor.pk))


def client_notify(
    client,
    *,
    email: str,
    key: str,
    actor: Actor,
    url_name: str,
    args=(),
    context: dict | None = None,
    data: dict | None = None,
):
    """Record the email now (once per `key`) and send it after commit. Returns the history
    entry, or None when this event's email was recorded before."""
    from .models import ClientActivity

    if ClientActivity.objects.filter(event_key=key).exists():
        return None
    user = client.user
    link = settings.SITE_URL.rstrip("/") + reverse(url_name, args=list(args))
    rendered = email_render(
        email,
        context=context or {},
        language=client.language,
        first_name=user.first_name,
        link=link,
    )
    try:
        with transaction.atomic():  # a concurrent twin of this event: its insert wins
            activity = ClientActivity.objects.create(
                client=client,
                kind=ClientActivity.Kind.EMAIL,
                actor=None if isinstance(actor, str) else actor,
                actor_label=_actor_label(actor)[:254],
                subject=rendered.subject,
                body=rendered.text,
                html=rendered.html,
                template=email,
                event_key=key[:120],
                data={**(data or {}), "language": rendered.language, "to": user.email},
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: client_email_send(activity.pk), robust=True)
    return activity


def client_email_send(activity_id: int) -> bool:
    """Send a recorded email that has not gone out yet; True when it went now."""
    from .models import ClientActivity

    activity = ClientActivity.objects.select_related("client__user").get(pk=activity_id)
    if activity.sent_at is not None:
        return False
    try:
        email_send(
            subject=activity.subject,
            body=activity.body,
            to=[activity.data.get("to") or activity.client.user.email],
            html=activity.html or None,
        )
    except Exception:  # noqa: BLE001  (the mail server's trouble never undoes the change)
        log.exception("Email %s to client %s not sent", activity.pk, activity.client_id)
        return False
    ClientActivity.objects.filter(pk=activity.pk, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )
    return True
