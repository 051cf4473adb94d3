"""What every fault script shares: the seeded throwaway system, the steady traffic it runs
under, and the checks it ends with. Not a benchmark itself (docs/faults.md).

- `seeded_stack()`: a `bench.stack.Stack` whose database is migrated and seeded with the demo
  (restored from `var/fault-cache/` when the migrations and the demo have not changed since
  the last run: building it takes minutes, restoring it seconds).
- `Traffic`: lead posts from the API (each with its Idempotency-Key, retried with the same
  key on an error, as an integration would) and signed PSP webhooks for open deposits (each
  delivered twice, as PSPs do), at steady rates from background threads; every answer is kept.
- `final_checks()`: ledger_verify and audit_verify clean, every lead routed once, every
  webhook applied once, every payout sent once.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal

from bench.stack import ROOT, Stack, wait_until

CACHE = ROOT / "var" / "fault-cache"
ALL_QUEUES = ["default", "leads", "kyc", "sync", "finance", "commissions", "compliance"]
LEAD_DECISIONS = ["lead.assigned", "lead.nurture_started", "lead.queued", "lead.unrouted"]


def _seed_fingerprint() -> str:
    from bench.benchdb import migrations_fingerprint

    digest = hashlib.sha256(migrations_fingerprint().encode())
    for path in sorted((ROOT / "demo").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def seeded_stack(stack: Stack | None = None) -> Stack:
    """A Stack (`stack`, or a new one) with the demo seeded, this process's Django pointed at
    it."""
    stack = stack or Stack()
    try:
        stack.django()
        dump = CACHE / f"seeded-{_seed_fingerprint()}.dump"
        if dump.exists():
            _pg_tool(stack, "pg_restore", "-d", "brokerage", str(dump))
        else:
            stack.migrate()
            stack.manage("seed_demo")
            CACHE.mkdir(parents=True, exist_ok=True)
            for old in CACHE.glob("seeded-*.dump"):
                old.unlink()
            partial = dump.with_suffix(".partial")
            _pg_tool(stack, "pg_dump", "-Fc", "-f", str(partial), "brokerage")
            partial.rename(dump)
        return stack
    except BaseException:
        stack.close()
        raise


def _pg_tool(stack: Stack, tool: str, *args: str) -> None:
    subprocess.run(  # noqa: S603
        [str(stack.pg.bin / tool), "-h", "127.0.0.1", "-p", str(stack.pg.port), "-U",
         "brokerage", *args],
        check=True, env={**stack.env, "PGPASSWORD": "brokerage"}, capture_output=True,
    )  # fmt: skip


def api_key() -> str:
    from django.conf import settings

    return settings.DEMO_API_KEY


def verified_client(email: str):
    """A client with a verified email address and KYC level 1, resident in the UK."""
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from brokerage.models import User
    from clients.services import client_register

    user = User.objects.create_user(email=email, password="fault-pass-1234", first_name="F")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    client = client_register(user=user, actor="test", country="GB")
    client.kyc_level = 1
    client.id_document_expires_on = timezone.now().date().replace(year=2030)
    client.save()
    return client


def open_deposits(n: int, amount: str = "100.00") -> list[dict]:
    """`n` clients, each with a Stripe deposit waiting for its PSP's success webhook."""
    from finance.models import Deposit, PaymentMethod
    from finance.services import deposit_create

    method = PaymentMethod.objects.filter(psp="stripe", currency="USD", is_active=True).first()
    made = []
    stamp = int(time.time())
    for i in range(n):
        client = verified_client(f"fault{stamp}.{i}@example.com")
        deposit = deposit_create(client=client, method=method, amount=amount, actor="test")
        Deposit.objects.filter(pk=deposit.pk).update(
            provider_reference=f"pi_fault_{deposit.pk}", status="pending"
        )
        made.append({"pk": deposit.pk, "reference": deposit.reference, "amount": amount})
    return made


def stripe_delivery(deposit: dict) -> tuple[dict, bytes]:
    from sandbox import psp as sandbox

    minor = int(Decimal(deposit["amount"]) * 100)
    event = sandbox.stripe_event(
        "payment_intent.succeeded",
        {
            "id": f"pi_fault_{deposit['pk']}",
            "object": "payment_intent",
            "amount": minor,
            "amount_received": minor,
            "currency": "usd",
            "metadata": {"reference": deposit["reference"]},
            "status": "succeeded",
        },
        event_id=f"evt_fault_{deposit['pk']}",
    )
    return sandbox.signed_webhook("stripe", event)


class Traffic:
    """Steady lead posts and webhooks against the web server, from background threads."""

    def __init__(self, port: int, *, lead_rate: float, deposits: list[dict], webhook_rate: float):
        self.port = port
        self.lead_rate, self.webhook_rate = lead_rate, webhook_rate
        self.deposits = list(deposits)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.leads: dict[str, int] = {}  # idempotency key -> lead id
        self.answers: list[dict] = []  # every answer: kind, at, status, ms
        self.key = api_key()
        self.threads = [
            threading.Thread(target=self._leads, daemon=True),
            threading.Thread(target=self._webhooks, daemon=True),
        ]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self, timeout: float = 300):
        """Stop sending new work; what was started is retried until it is accepted."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout)

    def _request(self, conn_box, kind, method, path, body, headers, ref=None):
        """One request; its answer kept: kind, ref (the lead's key, the deposit's pk), at
        (sent, epoch), status, ms."""
        started = time.time()
        try:
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn_box[0].request(method, path, body, headers)
            response = conn_box[0].getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn_box[0] = None
            payload, status = repr(exc).encode(), 0
        answer = {"kind": kind, "ref": ref, "at": started, "status": status}
        answer["ms"] = 1000 * (time.time() - started)
        if status not in (200, 201):  # what a refusal said (its start)
            answer["body"] = payload[:300].decode(errors="replace")
        with self.lock:
            self.answers.append(answer)
        return status, payload

    def _paced(self, rate, items, send, *, stoppable=True):
        next_at = time.monotonic()
        for item in items:
            if stoppable and self.stop.is_set():
                return
            send(item)
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _leads(self):
        box = [None]

        def one(i):
            key = f"fault-lead-{i}"
            body = json.dumps(
                {"first_name": f"Fault{i}", "last_name": "Lead", "email": f"fault{i}@lead.test",
                 "country": ["GB", "AE", "FR", "DE"][i % 4], "experience": "some",
                 "source": "fault"}
            )  # fmt: skip
            headers = {"Content-Type": "application/json", "X-API-Key": self.key,
                       "Idempotency-Key": key}  # fmt: skip
            for _attempt in range(600):
                status, payload = self._request(
                    box, "lead", "POST", "/api/v1/leads/", body, headers, ref=key
                )
                if status in (200, 201):
                    with self.lock:
                        self.leads[key] = json.loads(payload)["id"]
                    return
                time.sleep(0.5)  # an integration retries with the same key

        self._paced(self.lead_rate, _count(), one)

    def _webhooks(self):
        box = [None]

        def one(deposit):
            headers, body = stripe_delivery(deposit)
            for _copy in range(2):  # PSPs deliver more than once
                for _attempt in range(600):
                    status, _ = self._request(
                        box, "webhook", "POST", "/api/v1/webhooks/stripe/", body, headers,
                        ref=deposit["pk"],
                    )  # fmt: skip
                    if status == 200:
                        break
                    time.sleep(0.5)  # a PSP retries until it is acknowledged
            with self.lock:
                deposit["delivered"] = True

        # Every payment's webhook is sent, however long it takes: a PSP does not give up.
        self._paced(self.webhook_rate, self.deposits, one, stoppable=False)

    def figures(self, since: float | None = None, until: float | None = None) -> dict:
        rows = [
            a
            for a in self.answers
            if (since is None or a["at"] >= since) and (until is None or a["at"] < until)
        ]
        out = {}
        for kind in ("lead", "webhook"):
            mine = [a for a in rows if a["kind"] == kind]
            ms = sorted(a["ms"] for a in mine)
            out[kind] = {
                "requests": len(mine),
                "statuses": dict(Counter(str(a["status"]) for a in mine)),
                "p50_ms": round(ms[len(ms) // 2], 1) if ms else None,
                "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1) if ms else None,
            }
        return out


def healthz(port: int) -> dict:
    """The web's /healthz: its status and what it says of each part."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return {"status": response.status, **json.loads(response.read())}
    except (OSError, ValueError) as exc:
        return {"status": 0, "error": repr(exc)}


def loaded_stack(
    args, *, wait_beat: bool = False, stack: Stack | None = None, prepare=None
) -> tuple[Stack, Traffic, list[dict], float]:
    """The seeded stack with gunicorn, a worker on every queue, beat, the sealer and the
    supervisor, and its steady traffic (not started): (stack, traffic, deposits, setup seconds).
    `args`: lead_rate, webhooks, before, after and the fault's length `length`. `stack`: one
    the caller made (its environment adjusted); `prepare(stack)` runs once it is seeded."""
    started = time.monotonic()
    stack = seeded_stack(stack)
    try:
        if prepare is not None:  # the seeded database's servers made ready (a replica)
            prepare(stack)
        deposits = open_deposits(args.webhooks)
        stack.start_web(workers=2)
        stack.start_worker("all", ALL_QUEUES, concurrency=2)
        stack.start_beat(wait=wait_beat)
        stack._spawn("sealer", [sys.executable, "manage.py", "audit_sealer"])
        stack.supervise()
    except BaseException:
        stack.close()
        raise
    total = args.before + args.length + args.after
    traffic = Traffic(
        stack.web_port,
        lead_rate=args.lead_rate,
        deposits=deposits,
        webhook_rate=max(0.2, args.webhooks / total),
    )
    return stack, traffic, deposits, time.monotonic() - started


def outage(stack: Stack, traffic: Traffic, args, *, stop, start, look_after: float = 5) -> dict:
    """Under `traffic`: `args.before` seconds, then `stop()`; /healthz read `look_after`
    seconds into it; `start()` after `args.length` seconds, `args.after` seconds more, and
    the traffic finished (what it started is retried until accepted); then every accepted lead
    waited for until routed. Times (epoch), /healthz answers, the leads and how long routing
    took after the load (None: not within 5 minutes)."""
    traffic.start()
    time.sleep(args.before)
    seen = {"healthz_before": healthz(stack.web_port), "down_at": time.time()}
    stop()
    look = min(look_after, args.length / 2)
    time.sleep(look)
    seen["healthz_during"] = healthz(stack.web_port)
    time.sleep(max(0, args.length - look))
    start()
    seen["up_at"] = time.time()
    time.sleep(args.after)
    traffic.finish()
    seen["healthz_after"] = healthz(stack.web_port)
    seen["lead_ids"] = list(traffic.leads.values())
    seen["routed_s"] = wait_leads_routed(seen["lead_ids"], timeout=300)
    return seen


DATABASE_REFUSED = "database_unavailable"  # the API's refusal while the database is away


def refused_cleanly(answer: dict) -> bool:
    """Whether a refused request was refused as the product refuses while its database is
    away: 503, and under /api/ the JSON error `database_unavailable` (a page: the error page)."""
    if answer["status"] != 503:
        return False
    if answer["kind"] == "page":
        return True
    try:
        return json.loads(answer["body"]).get("error") == DATABASE_REFUSED
    except (ValueError, AttributeError):
        return False


def outage_ending(stack: Stack, health: dict, routed_s: float | None, checks: dict) -> dict:
    """The figures an outage script ends with: /healthz before, during and after it
    (`health`), the processes that exited by themselves and were started again (as production's
    supervisor does), how long the last leads took to be routed, the common checks."""
    return {
        **{f"healthz_{when}": answer for when, answer in health.items()},
        "restarted": stack.restarts,
        "all_leads_routed_s_after_load": None if routed_s is None else round(routed_s, 1),
        "checks": checks,
    }


def report(figures: dict, ok: bool) -> None:
    """The end of a fault script: its one JSON line (with the load average, as the machine may
    be shared) and exit status 1 when a check failed."""
    figures.setdefault("load_average", round(os.getloadavg()[0], 2))
    figures["ok"] = ok
    print(json.dumps(figures, default=str))
    sys.exit(0 if ok else 1)


def failed(figures: dict, allowed=("200", "201")) -> int:
    """How many answers in `Traffic.figures()` had a status not in `allowed`."""
    return sum(
        n
        for kind in figures.values()
        for status, n in kind["statuses"].items()
        if status not in allowed
    )


def _count():
    i = 0
    while True:
        yield i
        i += 1


def wait_leads_routed(lead_ids, timeout: float) -> float | None:
    """Seconds until every lead is routed; None if some are not within `timeout` (the checks
    then say how many)."""
    from leads.models import Lead

    started = time.monotonic()
    try:
        wait_until(
            lambda: not Lead.objects.filter(pk__in=lead_ids, routed_at__isnull=True).exists(),
            timeout,
            "every lead to be routed",
            step=1,
        )
    except RuntimeError:
        return None
    return time.monotonic() - started


def final_checks(*, lead_ids=(), deposits=(), withdrawal_ids=()) -> dict:
    """The end of every fault script: what must hold however the fault went."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from brokerage.models import AuditEvent
    from finance.models import Deposit, LedgerTransaction, PspEvent, Withdrawal

    checks = {}
    for command in ("ledger_verify", "audit_verify"):
        try:
            call_command(command, stdout=open("/dev/null", "w"))  # noqa: SIM115,PTH123
            checks[command] = "clean"
        except CommandError as exc:
            checks[command] = str(exc)
    lead_ids = [str(i) for i in lead_ids]
    decided = Counter(
        AuditEvent.objects.filter(
            target_type="leads.lead", target_id__in=lead_ids, action__in=LEAD_DECISIONS
        ).values_list("target_id", flat=True)
    )
    checks["leads"] = len(lead_ids)
    checks["leads_routed_once"] = len(decided) == len(lead_ids) and set(decided.values()) <= {1}
    checks["leads_not_routed"] = len(set(lead_ids) - set(decided))
    checks["leads_routed_twice"] = sum(1 for n in decided.values() if n > 1)
    pks = [d["pk"] for d in deposits]
    events = Counter(
        PspEvent.objects.filter(event_id__in=[f"evt_fault_{pk}" for pk in pks]).values_list(
            "event_id", flat=True
        )
    )
    credited = Counter(
        LedgerTransaction.objects.filter(
            kind="deposit", idempotency_key__in=_deposit_keys(pks)
        ).values_list("idempotency_key", flat=True)
    )
    completed = Deposit.objects.filter(pk__in=pks, status="completed").count()
    checks["webhooks"] = len(pks)
    checks["webhooks_applied_once"] = (
        len(events) == len(pks)
        and set(events.values()) <= {1}
        and completed == len(pks)
        and len(credited) == len(pks)
        and set(credited.values()) <= {1}
    )
    if withdrawal_ids:
        paid = Withdrawal.objects.filter(pk__in=withdrawal_ids, status="paid").count()
        checks["payouts"] = len(withdrawal_ids)
        checks["payouts_sent_once"] = paid == len(withdrawal_ids)
    checks["ok"] = (
        checks["ledger_verify"] == "clean"
        and checks["audit_verify"] == "clean"
        and checks["leads_routed_once"]
        and checks["webhooks_applied_once"]
        and checks.get("payouts_sent_once", True)
    )
    return checks


def _deposit_keys(pks) -> list[str]:
    """The ledger's idempotency keys of these deposits' credits (finance/services/deposits)."""
    return [f"deposit:{pk}" for pk in pks]


# --- helpers of the scripts that act on the sandboxes and the workers -------------------------


def psp_control(method: str, path: str, payload=None):
    """Call the PSP sandbox's control endpoints (`/_sandbox/...`): (status, answer)."""
    from django.conf import settings

    from sandbox.control import control

    return control(settings.SANDBOX_PSP_URL.rstrip("/"), method, path, payload)


def mt5_control(method: str, path: str, payload=None):
    """Call the MT5 sandbox's control endpoints (`/_sandbox/mt5/<path>`): (status, answer)."""
    from django.conf import settings

    from sandbox.control import control

    return control(settings.SANDBOX_MT5_URL.rstrip("/") + "/_sandbox/mt5/", method, path, payload)


def point_trading_server(stack: Stack) -> None:
    """The seeded demo's trading server is this stack's MT5 sandbox (the dump was made on
    another port)."""
    from clients.models import TradingServer

    TradingServer.objects.update(url=stack.env["SANDBOX_MT5_URL"])


def platform_deals(logins: list[int], days: int = 3) -> list:
    """The platform's own deals of `logins` over the last `days`, read through the adapter."""
    from datetime import timedelta

    from django.utils import timezone

    from clients.models import TradingServer
    from clients.platforms import platform_for

    platform = platform_for(TradingServer.objects.filter(is_active=True).order_by("pk")[0])
    try:
        now = timezone.now()
        return platform.deals(
            logins=logins, since=now - timedelta(days=days), until=now + timedelta(hours=1)
        ).records
    finally:
        platform.close()


def funded_client(email: str, amount: str | None = "500.00"):
    """A verified client (`verified_client`) and, with `amount`, a Stripe deposit paid on the
    PSP sandbox (so a payout can refund it) and credited to the wallet: (client, deposit)."""
    from django.utils import timezone

    from finance.models import PaymentMethod
    from finance.psp import EventKind, WebhookEvent
    from finance.services import deposit_create, deposit_open_session, psp_event_apply

    client = verified_client(email)
    if amount is None:
        return client, None
    method = PaymentMethod.objects.filter(psp="stripe", currency="USD", is_active=True).first()
    deposit = deposit_create(client=client, method=method, amount=amount, actor="test")
    nowhere = "http://127.0.0.1:9/"  # the PSP's own notices go nowhere: applied below
    deposit = deposit_open_session(
        deposit=deposit, return_url=nowhere, cancel_url=nowhere, notify_url=nowhere
    )
    status, answer = psp_control("POST", f"/_sandbox/stripe/payments/{deposit.reference}/pay")
    if status != 200:
        raise RuntimeError(f"the PSP sandbox did not take the payment: {answer}")
    psp_event_apply(
        psp="stripe",
        event=WebhookEvent(
            event_id=f"evt_paid_{deposit.pk}",
            kind=EventKind.PAYMENT_SUCCEEDED,
            reference=deposit.reference,
            provider_reference=deposit.provider_reference,
            amount=Decimal(amount),
            currency="USD",
            occurred_at=timezone.now(),
            raw={},
        ),
    )
    return client, deposit


def beat_intervals(stack: Stack, seconds: dict[str, float]) -> None:
    """Run these beat entries every so many seconds, as ops may set them in admin
    (django-celery-beat's table; beat copies the code's schedule there when it starts, so this
    waits for beat to be up first)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    wait_until(
        lambda: PeriodicTask.objects.filter(name__in=list(seconds)).count() == len(seconds),
        60,
        "beat to install its schedule",
    )
    time.sleep(1)
    for name, every in seconds.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=int(every), period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.filter(name=name).update(interval=interval, crontab=None)
    PeriodicTasks.update_changed()


class Holder:
    """A lock held by this script in a transaction of its own (a row's `FOR UPDATE`, a
    table's `LOCK TABLE`), so that a task that needs it waits in the middle of its work, where
    it can be seen and killed; `release()` rolls the transaction back."""

    def __init__(self, sql: str):
        import psycopg
        from django.conf import settings

        db = settings.DATABASES["default"]
        self.conn = psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"],
            dbname=db["NAME"], autocommit=False,
        )  # fmt: skip
        self.conn.execute("SET lock_timeout = '20s'")  # never a silent wait on itself
        self.conn.execute(sql)
        self.pid = self.conn.info.backend_pid

    def blocking(self, table: str = "") -> bool:
        """Whether another session (a task) now waits for this lock, on a statement that
        names `table`."""
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(
                "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [self.pid],
            )
            return any(table in query for (query,) in cur.fetchall())

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()
