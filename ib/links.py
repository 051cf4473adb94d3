"""Campaign links: a partner makes one per campaign; each click on `/r/<code>` is counted once
per visitor and window, and the campaign rides with the visitor to sign-up, so the client's
referral records the link that brought them.

Privacy: a click stores a keyed hash of the visitor's address, browser and the day (so the same
visitor cannot be followed from one day to the next, nor the address read back); never the
address, a cookie or anything the visitor typed. Bots, link previews and browser prefetches are
sent on but not counted.

Counting a click is not a decision anyone could dispute, so it writes no audit event; creating
a link is, and does.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from brokerage.audit import client_ip
from brokerage.errors import InvalidInput
from brokerage.kv import redis_client
from brokerage.services import Actor, audit_record

from . import audit_events
from .models import Partner
from .models_links import LANDINGS, CampaignLink, LinkClick

log = logging.getLogger(__name__)

CLICK_WINDOW = 30 * 60  # seconds: a visitor's clicks on one link within it count once
ADDRESS_CAP = 20  # counted clicks on one link from one address per window (many browsers)
MAX_LINKS = 200  # per partner

BOT_UA = re.compile(
    r"bot|crawl|spider|slurp|preview|fetch|scan|monitor|curl|wget|python|java/|go-http|"
    r"headless|lighthouse|facebookexternalhit|whatsapp|telegram|skype|discord|embedly|"
    r"bitly|pinterest|vkshare|w3c_validator",
    re.IGNORECASE,
)
PREFETCH_HEADERS = ("HTTP_PURPOSE", "HTTP_SEC_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")


def counts_as_click(request) -> bool:
    """A person's visit: not a bot, a link preview or a prefetch (those are sent on, uncounted)."""
    if any("prefetch" in request.META.get(h, "").lower() for h in PREFETCH_HEADERS):
        return False
    agent = request.META.get("HTTP_USER_AGENT", "")
    return bool(agent.strip()) and not BOT_UA.search(agent)


def visitor_of(request, *, at: datetime) -> str:
    """The visitor as a click stores it: HMAC of address, browser and day, 32 hex digits."""
    key = hashlib.sha256(b"ib.link-click:" + settings.SECRET_KEY.encode()).digest()
    text = "|".join(
        [client_ip(request) or "", request.META.get("HTTP_USER_AGENT", "")[:512], f"{at:%Y-%m-%d}"]
    )
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def address_over_cap(request, *, link: CampaignLink, at: datetime) -> bool:
    """True once `ADDRESS_CAP` clicks on `link` from the visitor's address were counted in this
    window (a script cycling browser strings counts no further; an office behind one address
    still counts its people). Counted in Redis under a keyed hash of the address; when Redis
    cannot be reached the click counts."""
    window = int(at.timestamp()) // CLICK_WINDOW
    key = hashlib.sha256(b"ib.link-address:" + settings.SECRET_KEY.encode()).digest()
    address = hmac.new(key, (client_ip(request) or "").encode(), hashlib.sha256).hexdigest()[:24]
    name = f"ib:link-clicks:{link.pk}:{address}:{window}"
    try:
        pipe = redis_client().pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, CLICK_WINDOW + 60, nx=True)
        return pipe.execute()[0] > ADDRESS_CAP
    except Exception:  # noqa: BLE001  (Redis unreachable: count the click)
        log.warning("campaign link click not capped: Redis unreachable", exc_info=True)
        return False


CLICK_SQL = """
WITH counted AS (
    INSERT INTO ib_linkclick (link_id, visitor, "window", clicked_at)
    VALUES (%(link)s, %(visitor)s, %(window)s, %(at)s)
    ON CONFLICT ON CONSTRAINT ib_linkclick_once_per_window DO NOTHING
    RETURNING link_id
), per_day AS (
    INSERT INTO ib_linkday (link_id, day, clicks)
    SELECT link_id, %(day)s, 1 FROM counted
    ON CONFLICT ON CONSTRAINT ib_linkday_once DO UPDATE SET clicks = ib_linkday.clicks + 1
)
UPDATE ib_campaignlink SET clicks = clicks + 1 WHERE id IN (SELECT link_id FROM counted)
RETURNING clicks
"""


def link_click_record(*, link: CampaignLink, visitor: str, at: datetime | None = None) -> bool:
    """Count a click on `link` unless `visitor` clicked it within the same window. One
    statement: the click, the day's count and the link's total are written together or not at
    all, and two clicks racing count once (the unique key decides)."""
    at = at or timezone.now()
    window = int(at.timestamp()) // CLICK_WINDOW
    with connection.cursor() as cur:
        cur.execute(
            CLICK_SQL,
            {
                "link": link.pk,
                "visitor": visitor,
                "window": window,
                "at": at,
                "day": at.astimezone(UTC).date(),
            },
        )
        return cur.fetchone() is not None


def link_for_code(code: str) -> CampaignLink | None:
    """The campaign link with this code, if its partner is active."""
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    return (
        CampaignLink.objects.select_related("partner")
        .filter(code=code, partner__status=Partner.Status.ACTIVE)
        .first()
    )


def landing_url(link: CampaignLink) -> str:
    """Where the link sends the visitor: its landing page, with its UTM tags and sub-id."""
    tags = {
        "utm_source": link.utm_source,
        "utm_medium": link.utm_medium,
        "utm_campaign": link.utm_campaign,
        "sub_id": link.sub_id,
    }
    query = urlencode({k: v for k, v in tags.items() if v})
    url = reverse(LANDINGS[link.landing][1])
    return f"{url}?{query}" if query else url


TAG_RE = re.compile(r"^[A-Za-z0-9._~-]*$")


def _tag(value: str, field: str, errors: dict) -> str:
    value = (value or "").strip()
    if len(value) > 64 or not TAG_RE.fullmatch(value):
        errors[field] = ["Up to 64 letters, digits, dots, dashes, underscores or tildes."]
    return value


@transaction.atomic
def campaign_link_create(
    *,
    partner: Partner,
    name: str,
    landing: str = "signup",
    sub_id: str = "",
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
    actor: Actor,
) -> CampaignLink:
    """A new campaign link for `partner`, with a short code of its own."""
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        errors["name"] = ["Name the campaign (up to 80 characters)."]
    if landing not in LANDINGS:
        errors["landing"] = ["Choose one of the landing pages."]
    tags = {
        field: _tag(value, field, errors)
        for field, value in [
            ("sub_id", sub_id),
            ("utm_source", utm_source),
            ("utm_medium", utm_medium),
            ("utm_campaign", utm_campaign),
        ]
    }
    if errors:
        raise InvalidInput("Check the link's details.", fields=errors)
    Partner.objects.select_for_update().get(pk=partner.pk)  # one partner's links in turn
    if partner.status != Partner.Status.ACTIVE:
        raise InvalidInput("A suspended partner's links credit nobody.")
    if CampaignLink.objects.filter(partner=partner).count() >= MAX_LINKS:
        raise InvalidInput(f"A partner may have up to {MAX_LINKS} campaign links.")
    if CampaignLink.objects.filter(partner=partner, name=name).exists():
        raise InvalidInput(
            "You have a link with that name.", fields={"name": ["Already one of yours."]}
        )
    for _ in range(5):  # a code that is no partner's referral code and no other link's
        link = CampaignLink(partner=partner, name=name, landing=landing, **tags)
        if Partner.objects.filter(referral_code=link.code).exists():
            continue
        try:
            with transaction.atomic():
                link.save()
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - 32^9 codes
        raise InvalidInput("Could not find a free code; try again.")
    audit_record(
        actor=actor,
        action=audit_events.CAMPAIGN_LINK_CREATED,
        target=link,
        evidence={"partner": partner.pk, "code": link.code, "landing": landing, **tags},
    )
    return link


KEEP_CLICKS = timedelta(days=2)  # a click row only serves to count its visitor once per window


def link_clicks_prune(*, now: datetime | None = None) -> int:
    """Delete the click rows no window needs any more (older than `KEEP_CLICKS`): the visitors'
    hashes go, the per-day counts and the links' totals stay. Nobody's decision: no audit."""
    cutoff = (now or timezone.now()) - KEEP_CLICKS
    deleted, _ = LinkClick.objects.filter(clicked_at__lt=cutoff).delete()
    return deleted
