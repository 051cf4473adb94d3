"""The site clients read in emails: django.contrib.sites' row, kept equal to the settings.

allauth's mails greet "Hello from {site name}!" and link to the site's domain; the row Django
creates is "example.com". `site_sync` writes `SITE_NAME` and `SITE_DOMAIN` into it after every
migrate, so a change of the settings reaches the emails at the next deploy.
"""

from django.conf import settings


def site_sync(**_kwargs) -> None:
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(
        pk=settings.SITE_ID,
        defaults={"domain": settings.SITE_DOMAIN[:100], "name": settings.SITE_NAME[:50]},
    )
    Site.objects.clear_cache()
