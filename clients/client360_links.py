"""The client 360's "Linked clients": the clients related to this one (`clients.links`), each
with why, as the viewer may see them. A client the viewer may not open is shown as "A client
outside your desk", without name or link; the reasons are about evidence this client shares.
Contributed in clients.contributions; four queries whatever the sources (every source's keys,
the addresses, the clients, the viewer's scope)."""

from django.urls import reverse

from .client360 import Contribution, Section
from .links import client_links
from .selectors import clients_visible_to

LINKS_LIMIT = 50


def linked_clients(client, user) -> Contribution:
    links = client_links(client)
    shown = links[:LINKS_LIMIT]
    visible = set(
        clients_visible_to(user)
        .filter(pk__in=[link.client.pk for link in shown])
        .values_list("pk", flat=True)
    )
    rows = []
    for link in shown:
        other = link.client
        seen = other.pk in visible
        rows.append(
            {
                "name": (other.user.get_full_name() or other.user.email) if seen else "",
                "url": reverse("clients:detail", args=[other.pk]) if seen else "",
                "number": other.pk if seen else None,
                "reasons": [reason.label for reason in link.reasons],
            }
        )
    return Contribution(
        sections=[
            Section(
                "links",
                "Linked clients",
                "clients/360/_links.html",
                {"rows": rows, "total": len(links)},
                order=35,
                icon="diagram-3",
                badge=str(len(links)) if links else "",
            )
        ]
    )
