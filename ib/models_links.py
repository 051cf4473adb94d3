"""Campaign links: a partner's referral links, one per campaign, each with its own short code,
and the clicks they bring (imported by `ib.models`).

- `CampaignLink`: the partner's link for a campaign: where it lands (one of `LANDINGS`, never
  an address the partner types), an optional sub-id and UTM tags carried to the landing page.
- `LinkClick`: one row per counted click, kept only to count a visitor once per window: the
  visitor is a keyed hash of the address, the browser and the day (no address, no cookie, no
  personal data), unique per (link, visitor, window).
- `LinkDay`: the clicks counted per link and day (a million clicks are a few thousand rows
  here); the link's `clicks` is their running sum, written in the same statement, so every
  funnel and the most-clicked ordering read one number per link.
"""

from __future__ import annotations

import secrets

from django.db import models

LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand

# Where a campaign link may send a visitor: a choice, never a URL a partner types (no open
# redirect). Each is a URL name.
LANDINGS = {
    "signup": ("Open an account (sign-up form)", "account_signup"),
    "login": ("Sign in (existing clients)", "account_login"),
}


LANDING_CHOICES = [(key, label) for key, (label, _) in LANDINGS.items()]


def new_link_code() -> str:
    return "L" + "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(9))


class CampaignLink(models.Model):
    partner = models.ForeignKey(
        "ib.Partner", on_delete=models.PROTECT, related_name="campaign_links"
    )
    name = models.CharField(max_length=80, help_text="The campaign, as the partner names it.")
    code = models.CharField(max_length=16, unique=True, default=new_link_code, editable=False)
    landing = models.CharField(max_length=16, choices=LANDING_CHOICES, default="signup")
    sub_id = models.CharField(max_length=64, blank=True)
    utm_source = models.CharField(max_length=64, blank=True)
    utm_medium = models.CharField(max_length=64, blank=True)
    utm_campaign = models.CharField(max_length=64, blank=True)
    clicks = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Counted clicks in all (the sum of its days)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="ib_campaignlink_name_once")
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"


class LinkClick(models.Model):
    """A counted click: at most one per link, visitor and window (the database says so)."""

    link = models.ForeignKey(CampaignLink, on_delete=models.CASCADE, related_name="+")
    visitor = models.CharField(max_length=32, help_text="Keyed hash of address, browser, day.")
    window = models.BigIntegerField(help_text="The click's time in whole windows since 1970.")
    clicked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["link", "visitor", "window"], name="ib_linkclick_once_per_window"
            )
        ]

    def __str__(self):
        return f"click on link {self.link_id} at {self.clicked_at:%Y-%m-%d %H:%M}"


class LinkDay(models.Model):
    link = models.ForeignKey(CampaignLink, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["link", "day"]
        constraints = [models.UniqueConstraint(fields=["link", "day"], name="ib_linkday_once")]

    def __str__(self):
        return f"link {self.link_id} on {self.day}: {self.clicks} clicks"
