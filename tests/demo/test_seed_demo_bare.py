"""Seeding on an empty database, and without the MT5 sandbox (test_seed_demo.py seeds once
for its whole module, so these two cannot live there)."""

import pytest
from django.core.management import call_command

from brokerage.models import ApiKey, Desk, User
from clients.models import Client, TradingAccount
from tests.demo.test_seed_demo import DEMO

pytestmark = pytest.mark.django_db


def test_nothing_demo_exists_without_seeding():
    assert not User.objects.filter(email__endswith="@demo.test").exists()
    assert not Desk.objects.exists() and not ApiKey.objects.exists()


def test_without_the_sandbox_the_rest_of_the_demo_installs(settings):
    for k, v in DEMO.items():
        setattr(settings, k, v)
    out = []

    class Out:
        def write(self, msg, *a, **k):
            out.append(msg)

        def flush(self):
            pass

    call_command("seed_demo", stdout=Out())
    assert "not answering" in "".join(out)
    assert Client.objects.filter(user__email="client@demo.test").exists()
    assert not TradingAccount.objects.exists()
