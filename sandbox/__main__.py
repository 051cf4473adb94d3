"""Run the sandbox servers: `python -m sandbox` (the demo's `make up` does)."""

import os
import threading
from pathlib import Path
from urllib.parse import urlparse

from . import mt5, psp

ROOT = Path(__file__).resolve().parent.parent


def main():
    url = urlparse(os.environ.get("SANDBOX_MT5_URL", "http://127.0.0.1:8081"))
    login = os.environ.get("SANDBOX_MT5_LOGIN", "1000")
    password = os.environ.get("SANDBOX_MT5_PASSWORD", "sandbox-manager")
    state_path = Path(os.environ.get("SANDBOX_MT5_STATE", "var/sandbox/mt5.sqlite3"))
    if not state_path.is_absolute():
        state_path = ROOT / state_path
    state_path.parent.mkdir(parents=True, exist_ok=True)
    simulate = os.environ.get("SANDBOX_MT5_SIMULATE", "1").lower() in ("1", "true", "yes", "on")
    server = mt5.serve(
        url.hostname or "127.0.0.1",
        url.port or 8081,
        login,
        password,
        state_path=state_path,
        timezone=os.environ.get("SANDBOX_MT5_TIMEZONE", "Europe/Athens"),
        simulate=simulate,
        tick_seconds=float(os.environ.get("SANDBOX_MT5_TICK_SECONDS", "2")),
        session_idle=float(os.environ.get("SANDBOX_MT5_SESSION_IDLE", "600")),
        max_rps=int(os.environ.get("SANDBOX_MT5_MAX_RPS", "0")),
    )
    print(
        f"MT5 Web API sandbox on {url.geturl()} (manager login {login}; state {state_path}; "
        f"simulation {'on' if simulate else 'off'}; control under /_sandbox/mt5/)",
        flush=True,
    )
    psp_url = urlparse(os.environ.get("SANDBOX_PSP_URL", "http://127.0.0.1:8082"))
    psp_server = psp.serve(psp_url.hostname or "127.0.0.1", psp_url.port or 8082)
    print(
        f"PSP sandbox on {psp_url.geturl()} (/stripe, /checkout, /skrill, /coinpayments; "
        "control under /_sandbox/)",
        flush=True,
    )
    psp_thread = threading.Thread(target=psp_server.serve_forever, name="psp", daemon=True)
    psp_thread.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        psp_server.shutdown()
        psp_server.server_close()
        server.server_close()


if __name__ == "__main__":
    main()
