"""The MT5 Web API sandbox speaks the real handshake (docs/architecture.md, outside systems)."""

import hashlib
import json
import secrets
import threading
import urllib.request
from http.cookiejar import CookieJar

import pytest

from sandbox import mt5


@pytest.fixture
def server():
    srv = mt5.serve("127.0.0.1", 0, "1000", "Manager#1")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def opener():
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def get(op, url):
    try:
        with op.open(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def handshake(base, password, login="1000"):
    op = opener()
    _, start = get(op, f"{base}/api/auth/start?version=484&agent=bo&login={login}&type=manager")
    if start["retcode"] != "0 Done":
        return op, start, None
    pw = hashlib.md5(hashlib.md5(password.encode("utf-16-le")).digest() + b"WebAPI").digest()
    answer = hashlib.md5(pw + bytes.fromhex(start["srv_rand"])).hexdigest()
    cli_rand = secrets.token_bytes(16)
    _, done = get(op, f"{base}/api/auth/answer?srv_rand_answer={answer}&cli_rand={cli_rand.hex()}")
    return op, done, hashlib.md5(pw + cli_rand).hexdigest()


def test_manager_authenticates_and_server_proves_itself(server):
    op, done, expected = handshake(server, "Manager#1")
    assert done["retcode"] == "0 Done"
    assert done["cli_rand_answer"] == expected
    assert get(op, f"{server}/api/test/access") == (200, {"retcode": "0 Done"})


def test_wrong_password_or_login_is_refused(server):
    # MetaQuotes: 1001 is an invalid account (a wrong login or password); 1002 means the
    # account is disabled, which a wrong password is not.
    op, done, _ = handshake(server, "wrong")
    assert done["retcode"] == "1001 Invalid account"
    assert get(op, f"{server}/api/test/access") == (403, {"retcode": "8 Not enough permissions"})
    _, start, _ = handshake(server, "Manager#1", login="999")
    assert start["retcode"] == "1001 Invalid account"


def test_calls_need_a_session(server):
    status, body = get(opener(), f"{server}/api/test/access")
    assert status == 403 and body["retcode"] == "8 Not enough permissions"
