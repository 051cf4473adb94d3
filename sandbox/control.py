"""A client for the sandboxes' control endpoints (`/_sandbox/...`), for the tests and the
benchmarks that drive them."""

import json
import urllib.error
import urllib.request


def control(base, method, path, payload=None, timeout=600):
    """Call a control endpoint: (HTTP status, JSON answer); an HTTP error is returned too."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 (a local sandbox's http URL)
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
