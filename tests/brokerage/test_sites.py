"""The site clients read in emails comes from the settings, never Django's "example.com"."""

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management import call_command

from brokerage.sites import site_sync
from tests.ib.conftest import signup

pytestmark = pytest.mark.django_db


def test_the_site_row_is_the_settings_after_migrate(settings):
    site = Site.objects.get(pk=settings.SITE_ID)
    assert (site.name, site.domain) == (settings.SITE_NAME, settings.SITE_DOMAIN)
    assert "example.com" not in (site.name, site.domain)


def test_a_changed_setting_reaches_the_row_at_the_next_migrate(settings):
    settings.SITE_NAME, settings.SITE_DOMAIN = "Acme Markets", "trade.acme.test"
    call_command("migrate", verbosity=0)
    assert Site.objects.get_current().name == "Acme Markets"
    assert Site.objects.get(pk=settings.SITE_ID).domain == "trade.acme.test"


def test_the_signup_email_greets_from_the_brokerage(client, settings):
    settings.SITE_NAME, settings.SITE_DOMAIN = "Acme Markets", "trade.acme.test"
    site_sync()
    mail.outbox.clear()
    signup(client, "nora@example.com")
    (message,) = mail.outbox
    assert "Hello from Acme Markets!" in message.body
    assert "example.com!" not in message.body and "Thank you for using Acme Markets" in message.body
    assert "trade.acme.test" in message.body
