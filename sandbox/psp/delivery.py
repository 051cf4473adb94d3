"""Webhook delivery: each answer's webhooks are posted to the notify URL on a background thread
(or before answering, with `sync_delivery`), as many copies as `duplicate_deliveries`, in
shuffled order with `shuffle`, and retried with exponential backoff on anything but a 2xx,
`delivery_attempts` times. Every copy is logged (GET /_sandbox/deliveries); a reset stops the
retries of what was scheduled before it."""

from __future__ import annotations

import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .config import DELIVERY_TIMEOUT_SECONDS
from .state import Sandbox

log = logging.getLogger("sandbox.psp")


@dataclass
class Delivery:
    psp: str
    url: str
    headers: dict
    body: bytes
    label: str  # event type / status, for the log


def deliverable(url: str) -> bool:
    return bool(url) and urllib.parse.urlsplit(url).scheme in ("http", "https")


def run_deliveries(sb: Sandbox, batch: list[Delivery | None], *, sync: bool) -> None:
    batch = [d for d in batch if d is not None]
    if not batch:
        return
    with sb.lock:
        copies = max(1, int(sb.fault("duplicate_deliveries")))
        shuffle = bool(sb.fault("shuffle"))
        attempts = max(1, int(sb.fault("delivery_attempts")))
        backoff = float(sb.fault("delivery_backoff_seconds"))
        generation = sb.generation
        sync = sync or bool(sb.fault("sync_delivery"))
        items = []
        for delivery in batch:
            for _ in range(copies):
                record = {
                    "psp": delivery.psp,
                    "url": delivery.url,
                    "event": delivery.label,
                    "status": "pending",
                    "attempts": 0,
                    "last_status": None,
                }
                sb.deliveries.append(record)
                items.append((delivery, record))
    if shuffle:
        random.shuffle(items)

    def send_all():
        for delivery, record in items:
            _send(sb, delivery, record, attempts, backoff, generation)

    if sync:
        send_all()
    else:
        threading.Thread(target=send_all, name="psp-webhooks", daemon=True).start()


def _send(sb: Sandbox, delivery: Delivery, record: dict, attempts: int, backoff: float, generation):
    for attempt in range(attempts):
        if generation != sb.generation:
            return
        request = urllib.request.Request(  # noqa: S310 (http(s) checked by deliverable())
            delivery.url, data=delivery.body, method="POST", headers=delivery.headers
        )
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_SECONDS) as resp:  # noqa: S310
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        except (urllib.error.URLError, OSError) as err:
            status = f"unreachable: {getattr(err, 'reason', err)}"
        with sb.lock:
            record["attempts"] = attempt + 1
            record["last_status"] = status
            ok = isinstance(status, int) and 200 <= status < 300
            record["status"] = "delivered" if ok else "retrying"
        if ok:
            return
        if attempt + 1 < attempts:
            time.sleep(backoff * 2**attempt)
    with sb.lock:
        record["status"] = "failed"
    log.info("webhook %s to %s given up: %s", delivery.label, delivery.url, record)
