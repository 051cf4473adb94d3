"""Load test: the whole system under a minute's mix of traffic, its service levels, and the
multiplier at which it stops meeting them.

On throwaway Postgres and Redis with the demo seeded (bench/stack.py, bench/faultkit.py),
the product's real processes: gunicorn, a Celery worker on every queue, beat (the deal sync
every `PLATFORM_SYNC_INTERVAL_SECONDS`), the audit sealer and the sandboxes (MT5 Web API and
PSPs). This process is only the driver: it sends HTTP requests as browsers and integrations
would, and trades in the MT5 sandbox as clients would.

At 1x, each minute (`MIX`): 600 portal page views, 60 portal sign-ins (password form, each from
an address of its own as behind the load balancer), 30 deposits (the deposit form, then Pay on
the PSP sandbox's hosted page, whose signed webhook credits the wallet), 10 withdrawals, 20
transfers to trading accounts, 120 lead posts from the API, 300 back-office page views (60
client 360s, 30 work-queue pages, 210 others), while 20 trades a second are made in the MT5
sandbox for the deal sync to bring in. Requests are sent at their scheduled times (an open
model: a slow answer does not slow the arrivals).

Figures, each from what the system itself recorded where it can:
- per endpoint: requests, errors (any answer other than the one a successful action gives),
  p50/p95/p99 in ms;
- sync lag: each deal traded during the run, stored at minus traded at (`clients_deal`);
- audit sealing lag: each event written during the run, sealed at minus occurred at;
- deposit credit: Pay pressed on the PSP's page to the deposit completed (`finance_deposit`).

Then the multiplier rises step by step (`--steps`, each `--step-seconds`) until an endpoint's
p95 crosses 500 ms; the step and the endpoint are reported.

    .venv/bin/python bench/load.py                                 # 10 min at 1x, then the ramp
    .venv/bin/python bench/load.py --seconds 60 --steps ""         # the CI smoke: 1 min at 1x

Prints one JSON line; exits 1 when a service level is missed at 1x (`--no-fail` to report only).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import requests  # noqa: E402

from bench.faultkit import api_key, open_deposits, seeded_stack, stripe_delivery  # noqa: E402
from bench.stack import wait_until  # noqa: E402

ALL_QUEUES = ["default", "leads", "kyc", "sync", "finance", "commissions", "compliance"]
# Requests a minute at 1x, by kind (the mix).
MIX = {
    "portal_page": 600,
    "portal_login": 60,
    "deposit": 30,
    "withdrawal": 10,
    "transfer": 20,
    "lead": 120,
    "backoffice_page": 210,
    "client_360": 60,
    "queue_page": 30,
}
WRITES = {"portal_login", "deposit", "withdrawal", "transfer", "lead"}
TRADES_PER_SECOND = 20
# Service levels at 1x.
PAGE_P95_MS, WRITE_P95_MS, SYNC_LAG_P95_S, SEAL_LAG_P99_S = 300, 500, 10, 2
RAMP_P95_MS = 500
MAX_LATE_S = 10
PASSWORD = "fault-pass-1234"  # bench.faultkit.open_deposits's clients

PORTAL_PAGES = [
    "portal:home",
    "portal:profile",
    "portal:trading",
    "portal:account",
    "portal:support",
    "wallet:home",
    "wallet:deposit",
    "wallet:withdraw",
    "wallet:transfer",
    "kyc:finances",
]
# (route, role) for the back office's other pages; {client}/{lead} filled per request.
BACKOFFICE_PAGES = [
    ("backoffice:home", "desk_manager"),
    ("backoffice:home", "executive"),
    ("clients:list", "desk_manager"),
    ("clients:list", "sales_agent"),
    ("leads:all", "ops_admin"),
    ("leads:inbox", "sales_agent"),
    ("leads:detail", "ops_admin"),
    ("finance:deposits", "finance_officer"),
    ("finance:transactions", "finance_officer"),
    ("ib:partners", "ib_manager"),
    ("compliance:workspace", "compliance_officer"),
    ("backoffice:audit_log", "compliance_officer"),
]
QUEUE_PAGES = [
    ("kyc_review:queue", "compliance_officer"),
    ("finance:withdrawals", "finance_officer"),
    ("retention:queue", "retention_agent"),
    ("clients:tickets", "senior_account_manager"),
    ("compliance:alerts", "compliance_officer"),
    ("compliance:aml_alerts", "compliance_officer"),
]
STAFF = sorted({role for _, role in BACKOFFICE_PAGES + QUEUE_PAGES} | {"compliance_officer"})


def percentile(values, p):
    """The nearest-rank percentile of `values` (sorted here), None when empty."""
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(len(values) * p / 100 + 0.5) - 1))]


# --- the world the traffic acts on ----------------------------------------------------------


def prepare(stack, *, clients: int) -> dict:
    """Clients with money in their wallet and an MT5 account, staff sessions, ids to visit."""
    from django.conf import settings
    from django.test import Client as TestClient

    from brokerage.models import User
    from clients.models import Client, TradingAccount, TradingServer
    from clients.selectors import clients_visible_to
    from clients.terms import terms_accept_in_force
    from finance.models import Deposit, PaymentMethod
    from leads.models import Lead
    from sandbox.control import control
    from tests.conftest import login

    # The seeded demo's trading server points at the sandbox it was seeded with: point it at
    # this stack's, and give its clients accounts there. This sandbox never saw the seeded
    # deals: the deals review would look each one of the last days up and mark it removed
    # (thousands of lookups, revisions and commission reversals that are no part of the mix),
    # so it is off for the run.
    mt5_url = stack.env["SANDBOX_MT5_URL"]
    server = TradingServer.objects.get(name="MT5 Sandbox")
    TradingServer.objects.filter(pk=server.pk).update(url=mt5_url, deals_review_days=0)
    status, made = control(
        mt5_url,
        "POST",
        "/_sandbox/mt5/bulk",
        {"accounts": clients, "deals_per_account": 4, "days": 3, "balance": "100000.00"},
    )
    assert status == 200, made
    first, last = made["logins"]
    logins = list(range(first, last + 1))

    deposits = open_deposits(clients, amount="5000.00")
    web = f"http://127.0.0.1:{stack.web_port}"
    for deposit in deposits:  # wallets funded the way PSPs fund them
        headers, body = stripe_delivery(deposit)
        answer = requests.post(f"{web}/api/v1/webhooks/stripe/", data=body, headers=headers)
        assert answer.status_code == 200, answer.text[:300]
    pks = [d["pk"] for d in deposits]
    people = list(Client.objects.filter(deposits__pk__in=pks).select_related("user").order_by("pk"))
    for c in people:  # as at sign-up: the terms in force accepted
        terms_accept_in_force(client=c, actor=c.user)
    accounts = TradingAccount.objects.bulk_create(
        [
            TradingAccount(
                client=c, server=server, login=login_, group="real\\standard-usd",
                currency="USD", leverage=100,
            )
            for c, login_ in zip(people, logins, strict=True)
        ]
    )  # fmt: skip
    wait_until(
        lambda: Deposit.objects.filter(pk__in=pks, status="completed").count() == len(pks),
        60,
        "the funding deposits to be credited",
    )

    def session(user) -> str:
        browser = TestClient()
        login(browser, user)
        return browser.cookies[settings.SESSION_COOKIE_NAME].value

    portal = [
        {
            "email": c.user.email,
            "session": session(c.user),
            "account": a.pk,
            "login": a.login,
        }
        for c, a in zip(people, accounts, strict=True)
    ]
    staff = {role: session(User.objects.get(email=f"{role}@demo.test")) for role in STAFF}
    officer = User.objects.get(email="compliance_officer@demo.test")
    book = list(
        clients_visible_to(officer)
        .exclude(pk__in=[c.pk for c in people])
        .values_list("pk", flat=True)[:2000]
    )
    return {
        "portal": portal,
        "staff": staff,
        "book_clients": book,
        "leads": list(Lead.objects.values_list("pk", flat=True)[:500]),
        "stripe_method": PaymentMethod.objects.get(psp="stripe", currency="USD", is_active=True).pk,
        "logins": logins,
    }


# --- the traffic -----------------------------------------------------------------------------


class Driver:
    """Sends the mix's requests at their scheduled times and keeps every answer."""

    def __init__(self, web: str, world: dict, *, seed: int = 7):
        from django.urls import reverse

        self.web, self.world = web, world
        self.reverse = reverse
        self.rng = random.Random(seed)  # noqa: S311
        self.lock = threading.Lock()
        self.results: list[dict] = []
        self.paid: dict[str, float] = {}  # deposit reference -> Pay pressed at
        self.local = threading.local()
        self.key = api_key()
        self.csrf = uuid.uuid4().hex  # a 32-character CSRF secret, sent as cookie and field
        self.lead_seq = 0

    # One keep-alive connection pool per thread, cookies given per request.
    def http(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
        self.local.s.cookies.clear()
        return self.local.s

    def record(self, kind, endpoint, started, ok, status, detail="", request_id=None):
        with self.lock:
            self.results.append(
                {
                    "kind": kind,
                    "endpoint": endpoint,
                    "at": started,
                    "ms": 1000 * (time.time() - started),
                    "ok": ok,
                    "status": status,
                    "detail": detail[:200],
                    "request_id": request_id,
                }
            )

    def call(self, kind, endpoint, method, path, *, expect, cookies=None, **kwargs):
        started = time.time()
        try:
            answer = self.http().request(
                method,
                self.web + path,
                cookies=cookies,
                allow_redirects=False,
                timeout=60,
                **kwargs,
            )
            ok = answer.status_code in expect
            detail = "" if ok else answer.text[:200]
            self.record(
                kind, endpoint, started, ok, answer.status_code, detail,
                answer.headers.get("X-Request-ID"),
            )  # fmt: skip
            return answer if ok else None
        except requests.RequestException as exc:
            self.record(kind, endpoint, started, False, 0, repr(exc))
            return None

    def person(self):
        return self.rng.choice(self.world["portal"])

    def staff_cookies(self, role):
        return {"sessionid": self.world["staff"][role]}

    def form_post(self, kind, endpoint, path, who, data):
        cookies = {"sessionid": who["session"], "csrftoken": self.csrf}
        return self.call(
            kind,
            endpoint,
            "POST",
            path,
            expect={302},
            cookies=cookies,
            data={**data, "csrfmiddlewaretoken": self.csrf},
            headers={"Referer": self.web + path},
        )

    # The actions of the mix.
    def portal_page(self):
        who, route = self.person(), self.rng.choice(PORTAL_PAGES)
        args = [who["account"]] if route == "portal:account" else []
        self.call(
            "portal_page",
            route,
            "GET",
            self.reverse(route, args=args),
            expect={200},
            cookies={"sessionid": who["session"]},
        )

    def portal_login(self):
        who = self.person()
        path = self.reverse("account_login")
        r = self.rng.randrange
        address = f"10.{r(256)}.{r(256)}.{r(1, 255)}"
        self.call(
            "portal_login",
            "account_login",
            "POST",
            path,
            expect={302},
            cookies={"csrftoken": self.csrf},
            data={"login": who["email"], "password": PASSWORD, "csrfmiddlewaretoken": self.csrf},
            headers={"X-Forwarded-For": address, "Referer": self.web + path},
        )

    def deposit(self):
        who = self.person()
        answer = self.form_post(
            "deposit",
            "wallet:deposit",
            self.reverse("wallet:deposit"),
            who,
            {"method": self.world["stripe_method"], "amount": "50.00"},
        )
        if answer is None:
            return
        page = answer.headers["Location"]  # the PSP's hosted page: the client reads it ...
        shown = requests.get(page, timeout=30)
        found = re.search(r"<dt>Reference</dt><dd>([^<]+)</dd>", shown.text)
        pressed = time.time()  # ... and presses Pay
        paid = requests.post(page, data={"outcome": "pay"}, allow_redirects=False, timeout=30)
        if paid.status_code < 400 and found:
            with self.lock:
                self.paid[html.unescape(found.group(1))] = pressed

    def withdrawal(self):
        self.form_post(
            "withdrawal",
            "wallet:withdraw",
            self.reverse("wallet:withdraw"),
            self.person(),
            {"option": "stripe:USD", "amount": "10.00"},
        )

    def transfer(self):
        who = self.person()
        self.form_post(
            "transfer",
            "wallet:transfer",
            self.reverse("wallet:transfer"),
            who,
            {"trading_account": who["account"], "direction": "to_trading", "amount": "20.00"},
        )

    def lead(self):
        with self.lock:
            self.lead_seq += 1
            n = self.lead_seq
        stamp = int(time.time())
        body = {
            "first_name": f"Load{n}",
            "last_name": "Lead",
            "email": f"load{stamp}.{n}@lead.test",
            "country": ["GB", "AE", "FR", "DE", "ES"][n % 5],
            "experience": "some",
            "source": "load",
        }
        self.call(
            "lead",
            "api:lead_create",
            "POST",
            "/api/v1/leads/",
            expect={200, 201},
            json=body,
            headers={"X-API-Key": self.key, "Idempotency-Key": f"load-{stamp}-{n}"},
        )

    def _staff_page(self, kind, route, role):
        args = []
        if route == "clients:detail":
            args = [self.rng.choice(self.world["book_clients"])]
        elif route == "leads:detail":
            args = [self.rng.choice(self.world["leads"])]
        self.call(
            kind,
            route,
            "GET",
            self.reverse(route, args=args),
            expect={200},
            cookies=self.staff_cookies(role),
        )

    def backoffice_page(self):
        self._staff_page("backoffice_page", *self.rng.choice(BACKOFFICE_PAGES))

    def client_360(self):
        self._staff_page("client_360", "clients:detail", "compliance_officer")

    def queue_page(self):
        self._staff_page("queue_page", *self.rng.choice(QUEUE_PAGES))

    # The schedule.
    def run(self, *, multiplier: float, seconds: float, threads: int = 48) -> tuple[float, float]:
        """Every request of `seconds` at `multiplier` times the mix, each sent at its time."""
        plan = []
        for kind, per_minute in MIX.items():
            count = round(per_minute * multiplier * seconds / 60)
            plan += [(self.rng.uniform(0, seconds), kind) for _ in range(count)]
        plan.sort()
        started = time.time()
        with ThreadPoolExecutor(threads) as pool:
            for offset, kind in plan:
                time.sleep(max(0.0, started + offset - time.time()))
                pool.submit(self._safe, getattr(self, kind), started + offset)
        return started, time.time()

    def _safe(self, action, due: float):
        # Every driver thread busy waiting for answers: the request leaves late. Past
        # MAX_LATE_S it is not sent at all and counts as an error (the system fell behind).
        late = time.time() - due
        if late > MAX_LATE_S:
            self.record(action.__name__, "not sent (fell behind)", due, False, 0, f"{late:.0f} s")
            return
        try:
            action()
        except Exception as exc:  # noqa: BLE001 (an unexpected answer is counted, not fatal)
            self.record(action.__name__, action.__name__, time.time(), False, 0, repr(exc))

    def figures(self, since: float, until: float, served: dict[str, float]) -> dict:
        """Per endpoint and per kind: requests, errors and percentiles of the time the driver
        waited for each answer; `server_p95_ms` is the same answers' p95 as gunicorn timed
        them (`served`: request id -> ms, from its access log), which leaves out the wait for
        a free worker and the driver's own time."""
        rows = [r for r in self.results if since <= r["at"] < until]
        by_endpoint = defaultdict(list)
        for r in rows:
            by_endpoint[(r["kind"], r["endpoint"])].append(r)
        endpoints = {}
        for (kind, endpoint), mine in sorted(by_endpoint.items()):
            ms = [r["ms"] for r in mine]
            errors = [r for r in mine if not r["ok"]]
            endpoints[f"{kind} {endpoint}"] = {
                "kind": kind,
                "requests": len(mine),
                "errors": len(errors),
                "p50_ms": round(percentile(ms, 50), 1),
                "p95_ms": round(percentile(ms, 95), 1),
                "p99_ms": round(percentile(ms, 99), 1),
                "first_error": (f"{errors[0]['status']} {errors[0]['detail']}" if errors else None),
            }
        kinds = {}
        for kind in MIX:
            ms = [r["ms"] for r in rows if r["kind"] == kind]
            if ms:
                mine = [r for r in rows if r["kind"] == kind and r["request_id"] in served]
                server = [served[r["request_id"]] for r in mine]
                outside = [r["ms"] - served[r["request_id"]] for r in mine]
                kinds[kind] = {
                    "requests": len(ms),
                    "errors": sum(1 for r in rows if r["kind"] == kind and not r["ok"]),
                    "p50_ms": round(percentile(ms, 50), 1),
                    "p95_ms": round(percentile(ms, 95), 1),
                    "p99_ms": round(percentile(ms, 99), 1),
                    "server_p50_ms": round(percentile(server, 50), 1) if server else None,
                    "server_p95_ms": round(percentile(server, 95), 1) if server else None,
                    # the rest of each answer's time: waiting for a free worker, and the wire
                    "outside_p95_ms": round(percentile(outside, 95), 1) if outside else None,
                }
        # How much of the run gunicorn's workers spent answering the driver (server time over
        # the step's seconds): near the number of workers, requests wait for a free one.
        busy = sum(served.get(r["request_id"], 0) for r in rows) / 1000 / max(until - since, 1)
        return {"endpoints": endpoints, "kinds": kinds, "web_busy_workers": round(busy, 2)}


class Trader:
    """`rate` trades a second (opened and closed at once) on the load clients' accounts."""

    def __init__(self, mt5_url: str, logins: list[int], rate: float):
        self.url, self.logins, self.rate = mt5_url, logins, rate
        self.stop = threading.Event()
        self.trades, self.refused, self.refusal = 0, 0, None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from sandbox.control import control

        rng = random.Random(11)  # noqa: S311
        symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD.m"]
        next_at = time.monotonic()
        while not self.stop.is_set():
            status, answer = control(
                self.url,
                "POST",
                "/_sandbox/mt5/trade",
                {
                    "login": rng.choice(self.logins),
                    "symbol": rng.choice(symbols),
                    "side": rng.choice(["buy", "sell"]),
                    "volume": "0.01",
                    "profit": f"{rng.uniform(-20, 20):.2f}",
                },
            )
            if status == 200 and "deals" in answer:
                self.trades += 1
            else:
                self.refused += 1
                self.refusal = f"{status} {answer}"[:200]
            next_at += 1 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))


# --- what the database recorded ---------------------------------------------------------------


def lags(since: float, until: float, paid: dict[str, float]) -> dict:
    """Sync, sealing and deposit-credit lags of what happened between `since` and `until`."""
    from django.db import connection

    from finance.models import Deposit

    def seconds(sql, params):
        with connection.cursor() as cur:
            cur.execute(sql, params)
            return [float(r[0]) for r in cur.fetchall()]

    window = [_aware(since), _aware(until)]
    sync = seconds(
        "SELECT extract(epoch FROM synced_at - time) FROM clients_deal "
        "WHERE time >= %s AND time < %s AND action IN (0, 1)",
        window,
    )
    seal = seconds(
        "SELECT extract(epoch FROM s.sealed_at - pg_xact_commit_timestamp(e.xmin)) "
        "FROM brokerage_auditevent e JOIN brokerage_auditseal s ON s.event_id = e.id "
        "WHERE e.occurred_at >= %s AND e.occurred_at < %s",
        window,
    )
    written = seconds(
        "SELECT extract(epoch FROM s.sealed_at - e.occurred_at) FROM brokerage_auditevent e "
        "JOIN brokerage_auditseal s ON s.event_id = e.id "
        "WHERE e.occurred_at >= %s AND e.occurred_at < %s",
        window,
    )
    unsealed = seconds(
        "SELECT count(*) FROM brokerage_auditevent e WHERE e.occurred_at >= %s "
        "AND e.occurred_at < %s AND NOT EXISTS "
        "(SELECT 1 FROM brokerage_auditseal s WHERE s.event_id = e.id)",
        window,
    )[0]
    passes = {}
    with connection.cursor() as cur:  # the sync's own record of its passes in the window
        cur.execute(
            "SELECT kind, count(*), coalesce(sum(ingested), 0), coalesce(sum(calls), 0), "
            "max(extract(epoch FROM finished_at - started_at)), "
            "count(*) FILTER (WHERE error <> '') FROM clients_syncrun "
            "WHERE finished_at >= %s AND started_at < %s GROUP BY kind",
            window,
        )
        for kind, n, ingested, calls, longest, failed in cur.fetchall():
            passes[kind] = {
                "runs": n,
                "ingested": int(ingested),
                "calls": int(calls),
                "longest_s": None if longest is None else round(float(longest), 1),
                "failed": failed,
            }
    credited = []
    pending = 0
    for reference, completed in Deposit.objects.filter(reference__in=list(paid)).values_list(
        "reference", "completed_at"
    ):
        if completed is None:
            pending += 1
        else:
            credited.append(completed.timestamp() - paid[reference])

    def summary(values, *ps):
        out = {"count": len(values)}
        for p in ps:
            value = percentile(values, p)
            out[f"p{p}_s"] = None if value is None else round(value, 2)
        out["max_s"] = round(max(values), 2) if values else None
        return out

    return {
        "sync_lag": summary(sync, 50, 95),
        "sync_runs": passes,
        # committed -> sealed (what the sealer controls), and written -> sealed (including
        # how long the writing transaction stayed open)
        "sealing_lag": summary(seal, 50, 99),
        "sealing_lag_from_written": summary(written, 50, 99),
        "unsealed_events": int(unsealed),
        "deposit_credit": {**summary(credited, 50, 95), "not_credited": pending},
    }


def _aware(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def served_ms(stack) -> dict[str, float]:
    """Request id -> milliseconds, as gunicorn's access log timed each request."""
    served = {}
    path = stack.logs / "web-access.log"
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                served[entry["request_id"]] = float(entry["duration_ms"])
            except (ValueError, KeyError, TypeError):
                continue
    return served


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def verdict(step: dict) -> dict:
    """The 1x service levels, each met or not."""
    kinds = step["kinds"]
    pages = [k for k in kinds if k not in WRITES]
    writes = [k for k in WRITES if k in kinds]
    return {
        "pages_p95_under_300ms": all(kinds[k]["p95_ms"] < PAGE_P95_MS for k in pages),
        "writes_p95_under_500ms": all(kinds[k]["p95_ms"] < WRITE_P95_MS for k in writes),
        "no_errors": sum(k["errors"] for k in kinds.values()) == 0,
        "sync_lag_p95_under_10s": (step["sync_lag"]["p95_s"] or 0) < SYNC_LAG_P95_S
        and step["sync_lag"]["count"] > 0,
        "sealing_lag_p99_under_2s": (step["sealing_lag"]["p99_s"] or 0) < SEAL_LAG_P99_S
        and step["sealing_lag"]["count"] > 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600, help="length of the 1x run")
    parser.add_argument(
        "--steps", default="1.5,2,3,4", help="multipliers of the ramp, comma-separated"
    )
    parser.add_argument("--step-seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=40, help="portal clients in the load")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=1)
    parser.add_argument(
        "--background-nice", type=int, default=10,
        help="niceness of the workers, beat and the sealer, as `make up` starts them "
        "(docker-compose.yml: cpu_shares 110), and of the sandboxes, which stand for servers "
        "on other machines; 0 runs them all as the web",
    )  # fmt: skip
    parser.add_argument("--settle", type=float, default=15, help="seconds after each step")
    parser.add_argument("--base", type=float, default=1.0, help="the first run's multiplier")
    parser.add_argument("--no-fail", action="store_true")
    parser.add_argument("--keep-logs", type=Path, help="copy the processes' logs here at the end")
    args = parser.parse_args()

    t_setup = time.monotonic()
    stack = seeded_stack()
    stack.background_nice = args.background_nice
    trader = driver = None
    try:
        from django.db import connections

        # Behind a load balancer every sign-in comes from its client's own address.
        stack.env["TRUSTED_PROXY_COUNT"] = "1"
        stack.env["STATIC_ROOT"] = str(stack.tmp / "static")  # served as `make up` serves it
        stack.manage("collectstatic", "--noinput", "-v", "0")
        stack.start_sandbox(background=True)
        # Each event's commit time, so sealing lag is measured from when the sealer could see it.
        stack.pg.psql("ALTER SYSTEM SET track_commit_timestamp = on")
        stack.pg.stop()
        stack.pg.start()
        connections.close_all()
        stack.start_web(workers=args.web_workers, threads=args.web_threads, access_log=True)
        world = prepare(stack, clients=args.clients)
        # As docs/scaling.md runs them: the sync queue's own worker beside the others'.
        stack.start_worker("sync", ["sync"], concurrency=1)
        stack.start_worker("all", [q for q in ALL_QUEUES if q != "sync"], concurrency=2)
        stack.start_beat()
        stack._spawn("sealer", [sys.executable, "manage.py", "audit_sealer"], background=True)
        setup_s = time.monotonic() - t_setup
        trader = Trader(stack.env["SANDBOX_MT5_URL"], world["logins"], TRADES_PER_SECOND)
        trader.thread.start()
        time.sleep(5)  # the first sync passes and a few trades before the clock starts
        driver = Driver(f"http://127.0.0.1:{stack.web_port}", world)
        steps = []
        ramp = [float(m) for m in args.steps.split(",") if m]
        for i, multiplier in enumerate([args.base, *ramp]):
            seconds = args.step_seconds if i else args.seconds
            load_before = load_average()
            since, until = driver.run(multiplier=multiplier, seconds=seconds)
            time.sleep(args.settle)  # what was traded and written at the end syncs and seals
            step = {
                "multiplier": multiplier,
                "seconds": seconds,
                "load_average_before": load_before,
                "load_average_after": load_average(),
                **driver.figures(since, until, served_ms(stack)),
                **lags(since, until, driver.paid),
            }
            steps.append(step)
            print(json.dumps({"step": step["multiplier"], "kinds": step["kinds"]}), file=sys.stderr)
            crossed = sorted(
                (e["p95_ms"], name)
                for name, e in step["endpoints"].items()
                if e["p95_ms"] > RAMP_P95_MS
            )
            if i and crossed:
                step["crossed_500ms"] = [name for _, name in crossed[::-1]]
                break
        trader.stop.set()
        trader.thread.join(10)
        first = steps[0]
        levels = verdict(first)
        figures = {
            "bench": "load",
            "setup_s": round(setup_s, 1),
            "web_workers": args.web_workers,
            "web_threads": args.web_threads,
            "background_nice": args.background_nice,
            "portal_clients": args.clients,
            "trades": trader.trades,
            "trades_refused": trader.refused,
            "trade_refusal": trader.refusal,
            "service_levels_1x": levels,
            "ok": all(levels.values()),
            "ramp_crossed_at": next(
                (
                    {"multiplier": s["multiplier"], "endpoints": s["crossed_500ms"]}
                    for s in steps
                    if "crossed_500ms" in s
                ),
                None,
            ),
            "steps": steps,
        }
        print(json.dumps(figures))
        sys.exit(0 if figures["ok"] or args.no_fail else 1)
    finally:
        if trader is not None:
            trader.stop.set()
        if args.keep_logs:  # every process's log, gunicorn's access lines, the driver's answers
            shutil.copytree(stack.logs, args.keep_logs, dirs_exist_ok=True)
            if driver is not None:
                with open(args.keep_logs / "driver.jsonl", "w") as out:
                    out.writelines(json.dumps(r) + "\n" for r in driver.results)
        stack.close()


if __name__ == "__main__":
    main()
