"""Local development and the demo: plain HTTP on 127.0.0.1, mail written to var/mail/."""

import os

os.environ.setdefault(
    "DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop"
)
# The project-local services that `make up` / `make test` start (see .ci/lib.sh).
os.environ.setdefault("DATABASE_URL", "postgres://brokerage:brokerage@127.0.0.1:54329/brokerage")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/0")
# Payment providers: the sandbox (python -m sandbox) with its documented test credentials.
_psp = os.environ.setdefault("SANDBOX_PSP_URL", "http://127.0.0.1:8082")
for _name, _value in {
    "STRIPE_API_URL": f"{_psp}/stripe",
    "STRIPE_SECRET_KEY": "sk_test_sandbox",
    "STRIPE_WEBHOOK_SECRET": "whsec_sandbox",
    "CHECKOUT_API_URL": f"{_psp}/checkout",
    "CHECKOUT_SECRET_KEY": "sk_sbox_sandbox",
    "CHECKOUT_WEBHOOK_SECRET": "cko_whsec_sandbox",
    "SKRILL_API_URL": f"{_psp}/skrill",
    "SKRILL_MERCHANT_ID": "5000001",
    "SKRILL_PAY_TO_EMAIL": "payments@brokerage.example",
    "SKRILL_SECRET_WORD": "skrill-sandbox-secret",
    "SKRILL_API_PASSWORD": "skrill-sandbox-api",
    "COINPAYMENTS_API_URL": f"{_psp}/coinpayments",
    "COINPAYMENTS_MERCHANT_ID": "cp-sandbox-merchant",
    "COINPAYMENTS_IPN_SECRET": "cp-ipn-sandbox",
    "COINPAYMENTS_PUBLIC_KEY": "cp-public-sandbox",
    "COINPAYMENTS_PRIVATE_KEY": "cp-private-sandbox",
    # The demo's Prometheus scrape token (docs/operations.md); set your own in production.
    "METRICS_TOKEN": "demo-metrics-token",
}.items():
    os.environ.setdefault(_name, _value)

from .base import *  # noqa: E402, F403
from .base import VAR_DIR, env  # noqa: E402

# Off, as in production (the demo is served like a real install: error pages, no settings shown,
# static files collected and served by whitenoise). DJANGO_DEBUG=true for Django's debug pages.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
if "EMAIL_URL" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# A demo bank account for wires (a valid IBAN of no one): set the real one in production.
BANK_WIRE_BENEFICIARY = env("BANK_WIRE_BENEFICIARY", default="Demo Brokerage Ltd")
BANK_WIRE_IBAN = env("BANK_WIRE_IBAN", default="CH5604835012345678009")
BANK_WIRE_BIC = env("BANK_WIRE_BIC", default="CRESCHZZ80A")
BANK_WIRE_BANK_NAME = env("BANK_WIRE_BANK_NAME", default="Demo Bank AG")
