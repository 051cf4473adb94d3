"""Run the sandbox servers: `python -m sandbox` (the demo's `make up` does)."""

import os
from urllib.parse import urlparse

from . import mt5


def main():
    url = urlparse(os.environ.get("SANDBOX_MT5_URL", "http://127.0.0.1:8081"))
    login = os.environ.get("SANDBOX_MT5_LOGIN", "1000")
    password = os.environ.get("SANDBOX_MT5_PASSWORD", "sandbox-manager")
    server = mt5.serve(url.hostname or "127.0.0.1", url.port or 8081, login, password)
    print(f"MT5 Web API sandbox on {url.geturl()} (manager login {login})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
