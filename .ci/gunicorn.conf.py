# The demo's web server (`make up`): gunicorn, as in the production image, on 127.0.0.1.
# BO_WEB_BIND and BO_LOG_DIR move it (the tests serve on a free port with their own logs).
import os
from pathlib import Path

_logs = Path(os.environ.get("BO_LOG_DIR", Path(__file__).resolve().parent.parent / "var" / "log"))
_logs.mkdir(parents=True, exist_ok=True)

bind = os.environ.get("BO_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("BO_WEB_WORKERS", "2"))
threads = 4  # htmx polls and slow reports do not hold up other pages
timeout = 120
accesslog = str(_logs / "web-access.log")
errorlog = str(_logs / "web.log")
# As the production image serves: JSON log lines (the access line carries the answered
# X-Request-ID), no Server header.
from brokerage.webserver import access_log_format, logger_class, post_fork  # noqa: E402, F401

capture_output = True  # anything printed goes to web.log, not the console
control_socket_disable = True  # several checkouts (and the tests) may serve on one machine
