import pytest

from clients.models import AccountType, TradingServer
from clients.platforms.secrets import password_encrypt


@pytest.fixture
def mt5_server(db, mt5_sandbox):
    """A TradingServer row pointing at the sandbox, with an account type per sandbox group."""
    server = TradingServer.objects.create(
        name="MT5 Sandbox",
        url=mt5_sandbox.url,
        manager_login=mt5_sandbox.login,
        manager_password=password_encrypt(mt5_sandbox.password),
        timezone="Europe/Athens",
        symbol_suffixes=[".m", ".pro", ".cash"],
        max_requests_per_second=200,
    )
    AccountType.objects.create(
        server=server,
        name="Standard USD",
        group="real\\standard-usd",
        currency="USD",
        leverages=[30, 100, 200],
        default_leverage=100,
    )
    AccountType.objects.create(
        server=server,
        name="Standard EUR",
        group="real\\standard-eur",
        currency="EUR",
        leverages=[30, 100],
        default_leverage=30,
    )
    server.sandbox = mt5_sandbox
    return server


@pytest.fixture
def eager():
    """Celery tasks run at once, in the test (with `django_capture_on_commit_callbacks`)."""
    from celery import current_app

    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture
def limits():
    """The shipped leverage limits, put back where an earlier transactional test emptied the
    database."""
    from tests.conftest import shipped_defaults

    shipped_defaults()
