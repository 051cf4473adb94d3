"""Demo campaign links: partner@demo.test promotes us with two links (a webinar and a forum
banner), each with a month of clicks; some of its referred clients came through them (see
`demo.ib._refer`), so both funnels run from click to first trade.

Idempotent: the links are found again by name, and their clicks are counted once (a link that
has clicks gets no more)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from ib.links import campaign_link_create, link_click_record
from ib.models import CampaignLink, Partner

LINKS = [  # name, landing, tags, clicks on the newest day (fewer going back)
    (
        "Spring trading webinar",
        "signup",
        {"utm_source": "webinar", "utm_medium": "email", "utm_campaign": "spring-2026"},
        60,
    ),
    (
        "Forum banner",
        "signup",
        {"utm_source": "forum", "utm_medium": "banner", "utm_campaign": "forum-q2", "sub_id": "b1"},
        25,
    ),
]
DAYS = 30


def install_demo_links(*, partner: Partner, actor: str) -> list[CampaignLink]:
    links = []
    for name, landing, tags, daily in LINKS:
        link = CampaignLink.objects.filter(partner=partner, name=name).first()
        if link is None:
            link = campaign_link_create(
                partner=partner, name=name, landing=landing, actor=actor, **tags
            )
        if not link.days.exists():
            _clicks(link, daily)
        links.append(link)
    return links


def _clicks(link: CampaignLink, daily: int) -> None:
    today = timezone.now().date()
    for back in range(DAYS):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(8), tzinfo=UTC)
        for i in range(max(daily - back * daily // (DAYS + 10), 1)):
            visitor = hashlib.sha256(f"demo:{link.pk}:{day}:{i}".encode()).hexdigest()[:32]
            at = min(start + timedelta(minutes=7 * i), timezone.now())
            link_click_record(link=link, visitor=visitor, at=at)
