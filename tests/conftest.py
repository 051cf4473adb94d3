import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import hypothesis
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from brokerage import db as brokerage_db
from brokerage import health
from brokerage.events import catalogue
from brokerage.models import Desk, User
from brokerage.roles import ROLES
from brokerage.services import staff_user_upsert
from clients.services import client_register
from clients.terms import terms_accept_in_force
from ib.services import partner_create

# Property tests share the machine with the rest of the suite (and with other runs): time spent
# drawing inputs under load says nothing about the code, so it is not a failure.
hypothesis.settings.register_profile(
    "suite", suppress_health_check=[hypothesis.HealthCheck.too_slow], deadline=None
)
hypothesis.settings.load_profile("suite")

# Codes the tests write through audit_record that no product catalogue declares.
test_event = catalogue("tests")
TEST_EVENT_CODES = (
    "a",
    "b",
    "c",
    "x",
    "x.y",
    "w",
    "new",
    "quick",
    "seed",
    "score",
    "real",
    "live",
    "concurrent",
    "other",
    "other.thing",
    "thing.done",
    "note.checked",
    "note.added",
    "before-crash",
    "bench.event",
    "bulk.0",
    "bulk.1",
    "bulk.2",
    "slow",
    "doomed",
    "client.updated",
)
for _code in TEST_EVENT_CODES:
    test_event(_code, _code)
for _i in range(5):
    test_event(f"thing.step{_i}", f"Step {_i}")

PASSWORD = "correct-horse-battery-9"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def fresh_totp_code(secret: str = TOTP_SECRET, margin: float = 8.0) -> str:
    """A staff TOTP code with at least `margin` seconds of its 30-second window left, so a slow
    browser submit is not refused for crossing into the next window (no tolerance is allowed)."""
    from brokerage.totp import totp_code

    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.05)
    return totp_code(secret)


AUDIENCES = [*ROLES, "client", "partner", "anonymous"]


def signup_form(email, **overrides) -> dict:
    """A complete portal sign-up form (a visitor from the UK with some experience)."""
    form = {
        "first_name": "Nora",
        "last_name": "Ng",
        "email": email,
        "phone": "+447911123456",
        "country": "GB",
        "language": "en",
        "experience": "some",
        "net_worth_usd": "",
        "password1": "a-long-pass-phrase",
        "password2": "a-long-pass-phrase",
        **terms_accepted_form(),
    }
    form.update(overrides)
    return form


def terms_accepted_form() -> dict:
    """The "I accept" boxes of the terms in force, ticked, as a form posts them."""
    from clients.terms import terms_in_force

    versions = terms_in_force()
    return {
        "terms_shown": ",".join(str(v.pk) for v in versions),
        **{f"accept_{v.document}": "on" for v in versions},
    }


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty cache (rate limits, used TOTP codes) in the test Redis DB."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _replica_only_where_asked(request, monkeypatch):
    """The test settings' `replica` (a mirror of the test database) is used only by tests that
    ask for it (`django_db(databases=[..., "replica"])`); the others run as an installation
    without a replica. Each test reads the replica's state afresh (brokerage.db caches it)."""
    marker = request.node.get_closest_marker("django_db")
    asked = marker.kwargs.get("databases") if marker else None
    if not (asked == "__all__" or (asked and "replica" in asked)):
        monkeypatch.setattr(brokerage_db, "replica_configured", lambda: False)
    brokerage_db.replica_status_forget()
    yield


@pytest.fixture
def desk(db):
    return Desk.objects.create(name="London", languages=["en"])


def make_staff(role: str, *, email=None, desk=None, totp=True, languages=None) -> User:
    user = staff_user_upsert(
        actor="test",
        email=email or f"{role}@test.example",
        role=role,
        first_name=role.title(),
        last_name="Tester",
        desk=desk,
        languages=languages,
        password=PASSWORD,
    )
    EmailAddress.objects.get_or_create(user=user, email=user.email, verified=True, primary=True)
    if totp:
        TOTP.activate(user, TOTP_SECRET)
    return user


def make_superuser(email="root@test.example") -> User:
    """A superuser with TOTP, as one who runs Django admin beyond the ops admin role."""
    user = User.objects.create_superuser(email, PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    TOTP.activate(user, TOTP_SECRET)
    return user


def make_client_user(email="trader@test.example") -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, first_name="Tia")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    client = client_register(user=user, actor="test")
    terms_accept_in_force(client=client, actor="test")  # as a client who signed up has
    return user


def make_partner_user(email="ib@test.example", code="IBTEST01") -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, first_name="Ian")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    partner_create(actor="test", user=user, referral_code=code)
    return user


def make_user(audience: str, **kwargs) -> User | None:
    if audience == "anonymous":
        return None
    if audience == "client":
        return make_client_user(**kwargs)
    if audience == "partner":
        return make_partner_user(**kwargs)
    return make_staff(audience, **kwargs)


def login(client, user) -> None:
    """Sign in as after a full allauth login: password, and for staff the TOTP step."""
    if user is None:
        return
    client.force_login(user)
    session = client.session
    now = time.time()
    records = [{"method": "password", "at": now, "email": user.email}]
    if user.is_staff:
        records.append({"method": "mfa", "at": now, "type": "totp"})
    session["account_authentication_methods"] = records
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()


def page_queries(client, user, urls) -> dict[str, int]:
    """The queries each page reads for `user`, after one warming visit (session, permission
    and rule caches). Main pages assert the same counts at two data sizes: a cap on one size
    alone lets a query per row slip under it while the rows are few."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(client, user)
    out = {}
    for url in urls:
        assert client.get(url).status_code == 200, url
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        out[url] = len(ctx)
    return out


@pytest.fixture
def root_admin(db, client):
    """A test client signed in to Django admin as a superuser (`.user`): the ops admin role
    has no change rights on clients or partners, so only a superuser reaches those forms."""
    client.user = make_superuser()
    login(client, client.user)
    return client


@pytest.fixture
def staff_factory(db):
    return make_staff


@pytest.fixture
def as_role(db, client):
    """`as_role("compliance_officer")` -> a test client signed in as that audience."""

    def _as(audience: str, **kwargs):
        login(client, make_user(audience, **kwargs))
        return client

    return _as


@pytest.hookimpl(trylast=True)  # after pytest-django's own order (database tests first)
def pytest_collection_modifyitems(items):
    """The benchmark and fault smokes first (`bench`: minutes each, in processes of their own,
    no test database): when the suite runs in one process per core (`make test`, pytest-xdist
    with `--dist load`, each process taking the next tests in this order) they start at once,
    beside the rest, instead of finishing alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("bench") is None)


def pytest_report_header(config):
    return [
        f"database: {settings.DATABASES['default']['HOST']}:"
        f"{settings.DATABASES['default']['PORT']}, redis: {settings.REDIS_URL}"
    ]


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def start_worker(
    extra_env: dict | None = None, *, log_path: Path | None = None, loglevel: str = "warning"
) -> subprocess.Popen:
    """Start a real Celery worker process on the test database and Redis; wait for its
    heartbeat. `extra_env` adds settings (e.g. PSP API URLs pointing at a sandbox); `log_path`
    takes the worker's log (otherwise it goes to the test's output)."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="brokerage.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}"
        f"/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        **(extra_env or {}),
    )
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "brokerage",
            "worker",
            "-n",
            name,
            "-P",
            "solo",
            "-Q",
            ",".join(["default", *settings.CELERY_DEPARTMENT_QUEUES]),
            "-l",
            loglevel,
        ],
        env=env,
        cwd=settings.BASE_DIR,
        **({"stdout": log_path.open("ab"), "stderr": subprocess.STDOUT} if log_path else {}),
    )
    proc.hostname = name
    if not wait_for(lambda: any(w["hostname"] == name for w in health.workers())):
        stop_worker(proc)
        raise AssertionError("worker never sent a heartbeat")
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def worker():
    """A real Celery worker process on the test database and the test Redis database."""
    proc = start_worker()
    try:
        yield proc
    finally:
        stop_worker(proc)


# --- Browser (Playwright driving Debian's Chromium) ------------------------------------------

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop + Django ORM
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.console_errors = errors
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def browser_session(context, client, live_server) -> None:
    """Give a browser context the Django test client's session (signed in with `login`)."""
    from django.conf import settings

    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def open_from_menu(page, width: int, href: str) -> None:
    """Follow the top navigation's link to `href`; at a phone's width, open the menu first and
    wait until it has finished opening, so the click lands on the link rather than on a menu
    still sliding open."""
    if width < 992:
        page.click(".navbar-toggler")
        page.wait_for_selector(f"#topnav.collapse.show a[href='{href}']", state="visible")
    with page.expect_navigation(url=f"**{href}"):
        page.click(f"#topnav a[href='{href}']")


def layout_problems(page) -> list[str]:
    """What a professional page must not do at 1366 px: be wider than the window, hide a
    table's columns behind a sideways scroll, or spill content out of a card."""
    problems = []
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        problems.append(f"{overflow} px wider than the window")
    hidden = page.evaluate(
        "[...document.querySelectorAll('.table-responsive')]"
        ".filter(e => e.offsetParent && e.scrollWidth > e.clientWidth)"
        ".map(e => [e.scrollWidth - e.clientWidth, [...e.querySelectorAll('thead th')]"
        ".map(th => `${th.textContent.trim()} ${Math.round(th.offsetWidth)}`).join(', ')])"
    )
    if hidden:
        problems.append(f"a table scrolls sideways (px over, column widths): {hidden}")
    spilled = page.evaluate(
        "[...document.querySelectorAll('.card')].filter(c => c.scrollWidth > c.clientWidth)"
        ".map(c => c.querySelector('.card-header')?.textContent.trim() || c.className)"
    )
    if spilled:
        problems.append(f"content spills out of cards: {spilled}")
    return problems


def screen_check(page, live_server, name: str, path: str, key: str) -> list[tuple]:
    """Open `path`, save a full-page screenshot as test-artifacts/<name>.png, and list what is
    wrong: a status other than 200, `key` not visible, a layout problem."""
    response = page.goto(f"{live_server.url}{path}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    problems = []
    if response.status != 200:
        problems.append((name, response.status))
    if not page.locator(key).first.is_visible():
        problems.append((name, f"{key} not visible"))
    problems += [(name, p) for p in layout_problems(page)]
    return problems


# --- MT5 Web API sandbox -------------------------------------------------------------------


@pytest.fixture
def mt5_sandbox():
    """The MT5 Web API sandbox on a free port: `.url`, `.login` ("1000"), `.password`
    ("Manager#1"), `.control(method, path, payload=None)` -> (status, JSON) with `path` such as
    "trade" (under /_sandbox/mt5/), `.server` (`.server.state`). In-memory state, simulation off."""
    from tests.mt5_support import MT5Sandbox

    sandbox = MT5Sandbox()
    try:
        yield sandbox
    finally:
        sandbox.stop()


# Transactional tests leave the database flushed (TRUNCATE), which also empties the rows data
# migrations installed (instruments, the default retention policy, outreach templates). Put them
# back before each such test, as a fresh migrate would have them.
DATA_MIGRATIONS = [
    "clients.migrations.0005_instruments_default_policy",
    "clients.migrations.0006_outreach_templates",
    "clients.migrations.0016_instrument_classes_specs_markups",  # 0005's instruments' classes
]


@pytest.fixture(autouse=True)
def _migration_data(request):
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from django.apps import apps

    for name in DATA_MIGRATIONS:
        importlib.import_module(name).forwards(apps, None)


@contextmanager
def module_transaction(django_db_blocker):
    """A transaction for data a whole module reads, rolled back when the module is done.
    Tests inside run in savepoints (pytest-django's `db`), so each sees the data as the module
    fixture left it. Marked as a test case's block, so the services' durable blocks nest in it
    as they do in any test."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        block._from_testcase = True
        with block:
            yield
            transaction.set_rollback(True)


# The rows an installation ships from its data migrations: a transactional test's database was
# emptied of them by the test before it (pytest-django flushes after each), so a test that
# relies on them puts them back.
SHIPPED_DEFAULTS = [
    ("brokerage.migrations.0010_country_rules_default", "forwards"),
    ("brokerage.migrations.0012_leverage_limits_default", "limits_add"),
    ("brokerage.migrations.0013_leverage_limits_finer_classes", "forwards"),
    ("brokerage.migrations.0014_regions", "regions_add"),
    ("brokerage.migrations.0015_leverage_limit_not_allowed", "forwards"),
    ("compliance.monitoring.migrations.0002_ship_scenarios", "ship"),
    ("clients.migrations.0037_terms_shipped", "ship"),
]


def shipped_defaults() -> None:
    """Country rules, leverage limits, regions, the AML scenarios' live versions and the client
    terms as a new installation has them (each seeder adds only what is missing)."""
    import importlib

    from django.apps import apps

    for module, function in SHIPPED_DEFAULTS:
        getattr(importlib.import_module(module), function)(apps, None)
