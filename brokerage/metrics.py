"""Prometheus metrics: what every process counts, and what `/metrics` and the system page read.

Counted where it happens, in whichever process it happens:
- requests (`RequestLogMiddleware`): a count and a latency histogram by route name, method and
  status;
- Celery tasks (the `task_prerun`/`task_postrun` signals): outcomes per task (success, retry,
  failure) and a duration histogram;
- calls to outside systems at the adapter seams (`outside_call`): the PSPs' HTTP calls and the
  trading platforms' API calls, a latency histogram and errors by code.

Gunicorn runs several worker processes and Celery several pool processes, so the counts live in
prometheus_client's multiprocess mode: each process writes its own memory-mapped files in
METRICS_DIR (named by host and process id, so containers sharing a volume never collide) and a
scrape adds them up. The directory is emptied when the deployment starts (`make up` does it);
a process's counts stay after it exits, so counters never go backwards. METRICS_DIR empty:
one process's own counts (`runserver`).

Read when scraped, from where the truth is: queue depth and the age of the oldest message per
Celery queue (Redis; each message carries its send time in a header, see `brokerage.logs`),
the health of the parts (`/healthz`'s checks), and the figures apps contribute to `/healthz`
(the trading platforms' sync lag, the audit sealer's lag).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator

from django.conf import settings

_DIR = settings.METRICS_DIR
if _DIR:
    os.makedirs(_DIR, exist_ok=True)
    # prometheus_client reads this when it is imported, below; child processes inherit both.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["METRICS_DIR"] = str(_DIR)

from prometheus_client import (  # noqa: E402  (after the directory is set)
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

from .labels import WORDS, spell  # noqa: E402

_HOST = socket.gethostname().replace("_", "-")
if _DIR:
    values.ValueClass = values.MultiProcessValue(lambda: f"{_HOST}-{os.getpid()}")

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60)
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800)

http_requests = Counter(
    "brokerage_http_requests",
    "Requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
http_latency = Histogram(
    "brokerage_http_request_duration_seconds",
    "Time the application took to answer, by route name, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
task_outcomes = Counter(
    "brokerage_celery_tasks",
    "Celery task runs by task and outcome (success, retry, failure, ...).",
    ["task", "outcome"],
)
task_duration = Histogram(
    "brokerage_celery_task_duration_seconds",
    "How long Celery task runs took, by task.",
    ["task"],
    buckets=TASK_BUCKETS,
)
outside_latency = Histogram(
    "brokerage_outside_call_duration_seconds",
    "Calls to outside systems (PSPs, trading platforms) by system, provider and operation.",
    ["system", "provider", "operation"],
    buckets=LATENCY_BUCKETS,
)
outside_errors = Counter(
    "brokerage_outside_call_errors",
    "Calls to outside systems that failed, by system, provider, operation and error code.",
    ["system", "provider", "operation", "error"],
)


# --- counting -------------------------------------------------------------------------------


def request_observe(request, status: int, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        route = match.view_name
    elif request.path.startswith(settings.STATIC_URL):
        route = "static"
    else:
        route = "unmatched"
    labels = (route, request.method, str(status))
    http_requests.labels(*labels).inc()
    http_latency.labels(*labels).observe(seconds)


def task_observe(task_name: str, state: str | None, seconds: float | None) -> None:
    task_outcomes.labels(task_name, (state or "unknown").lower()).inc()
    if seconds is not None:
        task_duration.labels(task_name).observe(seconds)


@contextlib.contextmanager
def outside_call(system: str, provider: str, operation: str) -> Iterator[None]:
    """Times one call to an outside system; an exception counts as an error by its `code`
    (the domain errors' stable code) or its class name, and propagates."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        code = getattr(exc, "code", None) or exc.__class__.__name__
        outside_errors.labels(system, provider, operation, str(code)).inc()
        raise
    finally:
        outside_latency.labels(system, provider, operation).observe(time.perf_counter() - started)


# --- read when scraped ----------------------------------------------------------------------


def queue_oldest_ages(queues: list[str]) -> dict[str, float | None]:
    """Seconds the oldest message of each queue has waited (the list's far end: workers take
    from there), from the send time each message carries; None for an empty queue."""
    from .kv import redis_client
    from .logs import SENT_AT_HEADER

    client = redis_client()
    pipe = client.pipeline()
    for name in queues:
        pipe.lindex(name, -1)
    now = time.time()
    ages: dict[str, float | None] = {}
    for name, raw in zip(queues, pipe.execute(), strict=True):
        ages[name] = None
        if raw:
            try:
                sent = json.loads(raw)["headers"][SENT_AT_HEADER]
                ages[name] = max(0.0, now - float(sent))
            except (ValueError, KeyError, TypeError):
                ages[name] = None  # a message from before send times were stamped
    return ages


def _numbers(prefix: str, value, labels: dict) -> Iterator[tuple[str, dict, float]]:
    """The numeric leaves of a health figure: {"srv": {"lag_s": 3}} -> (prefix_lag_seconds,
    {"name": "srv"}, 3)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        name = prefix.removesuffix("_s") + "_seconds" if prefix.endswith("_s") else prefix
        yield name, labels, float(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict):
                yield from _numbers(prefix, inner, {**labels, "name": str(key)})
            else:
                yield from _numbers(f"{prefix}_{key}", inner, labels)


class LiveCollector:
    """Figures read at scrape time: parts up or down, queues, and the apps' health figures."""

    def collect(self):
        from . import health

        up = GaugeMetricFamily(
            "brokerage_up", "1 when the part answers (/healthz).", labels=["part"]
        )
        report = health.health_report()
        for part, state in report.items():
            up.add_metric([part], 1.0 if state == "ok" else 0.0)
        yield up
        if report["redis"] == "ok":
            yield from self._queues()
        families: dict[str, GaugeMetricFamily] = {}
        for figure, value in health.extra_report().items():
            for name, labels, number in _numbers(figure, value, {}):
                metric = f"brokerage_{name}"
                family = families.get(metric)
                if family is None:
                    family = families[metric] = GaugeMetricFamily(
                        metric, f"{figure} (a /healthz figure).", labels=sorted(labels)
                    )
                family.add_metric([labels[k] for k in sorted(labels)], number)
        yield from families.values()

    def _queues(self):
        from .health import queue_depths

        depths = queue_depths()
        ages = queue_oldest_ages(list(depths))
        depth = GaugeMetricFamily(
            "brokerage_celery_queue_length", "Messages waiting per Celery queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "brokerage_celery_queue_oldest_age_seconds",
            "How long the oldest waiting message of each Celery queue has waited (0: empty).",
            labels=["queue"],
        )
        for name, count in depths.items():
            depth.add_metric([name], float(count))
            age.add_metric([name], ages.get(name) or 0.0)
        yield depth
        yield age


class _Counted:
    """This process's own counts (no METRICS_DIR)."""

    def collect(self):
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if _DIR:
        MultiProcessCollector(registry, path=str(_DIR))
    else:
        registry.register(_Counted())
    registry.register(LiveCollector())
    return registry


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of everything, and its content type."""
    return generate_latest(scrape_registry()), CONTENT_TYPE_LATEST


# --- the system page: the same figures, summed up for people --------------------------------


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile from cumulative (upper bound, count) buckets, interpolated within a bucket
    as Prometheus's histogram_quantile does; None without observations."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, count
    return lower


def _histograms(family, keys: tuple[str, ...]) -> dict[tuple, dict]:
    """Per label tuple (`keys` of the labels, the others summed): count, sum, buckets."""
    out: dict[tuple, dict] = {}
    for sample in family.samples:
        key = tuple(sample.labels.get(k, "") for k in keys)
        row = out.setdefault(key, {"count": 0.0, "sum": 0.0, "buckets": {}})
        if sample.name.endswith("_bucket"):
            bound = float(sample.labels["le"])
            row["buckets"][bound] = row["buckets"].get(bound, 0.0) + sample.value
        elif sample.name.endswith("_count"):
            row["count"] += sample.value
        elif sample.name.endswith("_sum"):
            row["sum"] += sample.value
    return out


def _timing(row: dict) -> dict:
    buckets = list(row["buckets"].items())
    count = int(row["count"])
    return {
        "count": count,
        "mean_ms": round(row["sum"] / count * 1000, 1) if count else None,
        "p50_ms": _ms(bucket_quantile(0.5, buckets)),
        "p95_ms": _ms(bucket_quantile(0.95, buckets)),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _counts(family, keys: tuple[str, ...], by: str) -> dict[tuple, dict[str, int]]:
    out: dict[tuple, dict[str, int]] = {}
    for sample in family.samples:
        if sample.name.endswith("_total"):
            key = tuple(sample.labels[k] for k in keys)
            slot = out.setdefault(key, {})
            slot[sample.labels[by]] = slot.get(sample.labels[by], 0) + int(sample.value)
    return out


def metrics_summary(limit: int = 25) -> dict:
    """What /metrics says, as the system page's tables: the busiest routes, every task, every
    outside call, and the gauges (queues, sync lag, audit sealing)."""
    families = {f.name: f for f in scrape_registry().collect()}
    empty = type("Empty", (), {"samples": []})()

    routes = []
    statuses = _counts(
        families.get("brokerage_http_requests", empty), ("route", "method"), "status"
    )
    for key, row in _histograms(
        families.get("brokerage_http_request_duration_seconds", empty), ("route", "method")
    ).items():
        codes = statuses.get(key, {})
        routes.append(
            {
                "route": key[0],
                "label": route_label(key[0]),
                "method": key[1],
                **_timing(row),
                "client_errors": sum(n for s, n in codes.items() if s.startswith("4")),
                "server_errors": sum(n for s, n in codes.items() if s.startswith("5")),
            }
        )
    routes.sort(key=lambda r: -r["count"])

    outcomes = _counts(families.get("brokerage_celery_tasks", empty), ("task",), "outcome")
    timings = _histograms(families.get("brokerage_celery_task_duration_seconds", empty), ("task",))
    tasks = [
        {
            "task": key[0],
            "label": task_label(key[0]),
            "outcomes": outcomes.get(key, {}),
            **_timing(timings.get(key, _NONE)),
        }
        for key in sorted(set(outcomes) | set(timings))
    ]

    keys = ("system", "provider", "operation")
    errors: dict[tuple, int] = {}
    for key, codes in _counts(
        families.get("brokerage_outside_call_errors", empty), keys, "error"
    ).items():
        errors[key] = sum(codes.values())
    calls = [
        {
            "system": k[0],
            "provider": k[1],
            "operation": k[2],
            "label": operation_label(k[2]),
            "errors": errors.get(k, 0),
        }
        | _timing(row)
        for k, row in sorted(
            _histograms(
                families.get("brokerage_outside_call_duration_seconds", empty), keys
            ).items()
        )
    ]

    queues: dict[str, dict] = {}
    figures = []
    for name, family in sorted(families.items()):
        if family.type != "gauge" or name == "brokerage_up":
            continue
        for sample in family.samples:
            if name in QUEUE_GAUGES:
                queue = queues.setdefault(sample.labels["queue"], {})
                queue[QUEUE_GAUGES[name]] = sample.value
            else:
                figures.append(
                    {
                        "label": gauge_label(name),
                        "of": sample.labels.get("name", ""),
                        "value": sample.value,
                    }
                )
    return {
        "routes": routes[:limit],
        "tasks": tasks,
        "calls": calls,
        "queues": queues,
        "figures": figures,
    }


QUEUE_GAUGES = {
    "brokerage_celery_queue_length": "depth",
    "brokerage_celery_queue_oldest_age_seconds": "oldest_age_s",
}
GAUGE_LABELS = {
    "brokerage_platform_sync_lag_seconds": "Trading platform sync lag (seconds)",
    "brokerage_audit_sealing_lag_seconds": "Audit sealing lag (seconds)",
    "brokerage_audit_sealing_unsealed": "Audit events waiting for their seal",
}


def route_label(route: str) -> str:
    """`compliance:case_new` -> "Compliance · case new" (the page's own name stays in the HTML's
    data attributes and in /metrics)."""
    if route in ("static", "unmatched"):
        return {"static": "Static files", "unmatched": "Addresses that match nothing"}[route]
    *spaces, name = route.split(":")
    return " · ".join([*(spell(s) for s in spaces), _lower(spell(name)) if spaces else spell(name)])


def _lower(text: str) -> str:
    """`text` in lower case but for its acronyms."""
    return " ".join(w if w in WORDS.values() else w.lower() for w in text.split(" "))


def task_label(task: str) -> str:
    """`leads.tasks.lead_route_task` -> "Lead route (leads)"."""
    module, _, name = task.rpartition(".")
    where = " ".join(module.removesuffix(".tasks").replace(".", " ").replace("_", " ").split())
    return f"{spell(name.removesuffix('_task'))} ({where})" if where else spell(name)


QUEUE_LABELS = {"kyc": "KYC"}


def queue_label(queue: str) -> str:
    return QUEUE_LABELS.get(queue) or spell(queue)


def operation_label(operation: str) -> str:
    """A PSP call's method as it is; an MT5 Web API path as words: `/api/deal/get_batch` -> "deal
    get batch"."""
    return " ".join(operation.removeprefix("/api/").replace("/", " ").replace("_", " ").split())


def gauge_label(name: str) -> str:
    """A gauge's name as the system page words it (a figure an app adds later: its name, read)."""
    if name in GAUGE_LABELS:
        return GAUGE_LABELS[name]
    words = name.removeprefix("brokerage_").replace("_", " ")
    return words[:1].upper() + words[1:]


_NONE = {"count": 0.0, "sum": 0.0, "buckets": {}}
