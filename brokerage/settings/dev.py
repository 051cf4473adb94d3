"""Local development and the demo: plain HTTP on 127.0.0.1, mail written to var/mail/."""

import os

os.environ.setdefault(
    "DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop"
)
# The project-local services that `make up` / `make test` start (see .ci/lib.sh).
os.environ.setdefault("DATABASE_URL", "postgres://brokerage:brokerage@127.0.0.1:54329/brokerage")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/0")

from .base import *  # noqa: E402, F403
from .base import VAR_DIR, env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
if "EMAIL_URL" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
