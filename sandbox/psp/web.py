"""A request as the handlers see it and the answer they give (with the webhooks it sends)."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Resp:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    deliveries: list = field(default_factory=list)  # webhooks to send for this answer
    operation: bool = False  # a refund/payout endpoint: delay and drop faults apply
    sync: bool = False

    def replay(self) -> Resp:
        return Resp(self.status, self.body, self.content_type, dict(self.headers))


def json_resp(payload, status: int = 200, **kwargs) -> Resp:
    return Resp(status, json.dumps(payload, default=str).encode(), **kwargs)


def control_error(status: int, code: str, detail: str) -> Resp:
    return json_resp({"error": code, "detail": detail}, status)


class Request:
    def __init__(self, method: str, path: str, headers, body: bytes, host: str):
        self.method = method
        url = urllib.parse.urlsplit(path)
        self.path = url.path
        self.raw_query = url.query
        self.query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.headers = headers
        self.body = body
        self.base = f"http://{host}"
        self._form: dict | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    @property
    def form(self) -> dict[str, str]:
        if self._form is None:
            try:
                pairs = urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                pairs = []
            self._form = dict(pairs)
        return self._form

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true", "yes")
