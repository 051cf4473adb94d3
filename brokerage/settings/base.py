"""Settings shared by every environment.

Everything that differs between machines comes from environment variables (listed with their
defaults in `.env.example`). Defaults are the safe production ones; `dev` and `test` relax them.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from kombu import Queue
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file), overwrite=False)

# --- Core -----------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
SITE_ID = 1
# What clients read in every email (allauth's sign-up and password mails included): the
# brokerage's name and the host it is served on (django.contrib.sites' row, set after each
# migrate by `brokerage.sites.site_sync`).
SITE_NAME = env("SITE_NAME", default="Brokerage")
SITE_DOMAIN = env("SITE_DOMAIN", default="") or urlsplit(SITE_URL).netloc or "localhost"

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "django_celery_beat",
    "simple_history",
    "ninja",
    "csp",
    "brokerage",
    "clients",
    "leads",
    "kyc",
    "finance",
    "ib",
    "compliance",
    "compliance.monitoring",  # AML monitoring (app label "aml")
    "demo",  # above every app: composes the demo data (seed_demo); nothing imports it
]

MIDDLEWARE = [
    "brokerage.logs.RequestLogMiddleware",
    "brokerage.middleware.HealthCheckMiddleware",
    "brokerage.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "brokerage.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "brokerage.middleware.StaffMFARequiredMiddleware",
    "clients.access.DeviceCookieMiddleware",
]

ROOT_URLCONF = "brokerage.urls"
WSGI_APPLICATION = "brokerage.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "brokerage.context_processors.navigation",
                "brokerage.context_processors.portal_notice_list",
            ],
        },
    },
]

# --- Data stores ----------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# A PostgreSQL streaming replica (optional): dashboards, reports, exports and the large list
# pages read from it, never what decides money or access (brokerage.db); a replica more than
# DATABASE_REPLICA_MAX_LAG seconds behind, or down, is skipped for the primary.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {}).update(
        {"connect_timeout": 2, "options": "-c default_transaction_read_only=on"}
    )
DATABASE_REPLICA_MAX_LAG = env.float("DATABASE_REPLICA_MAX_LAG", default=30.0)
DATABASE_ROUTERS = ["brokerage.db.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
# Requests per API key: "REQUESTS/SECONDS" or "off" (brokerage/ratelimit.py).
API_RATE_LIMIT = env("API_RATE_LIMIT", default="300/60")
CACHES = {
    "default": {
        # Redis, degrading to misses while it is down (brokerage/cache.py)
        "BACKEND": "brokerage.cache.DegradingRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="bo"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "brokerage.User"
# The model whose rows are the subjects of the audit trail (an event about a row with a
# `client_id` is about that client): one client's whole trail is one index range.
AUDIT_SUBJECT_MODEL = "clients.client"
AUTHENTICATION_BACKENDS = [
    "brokerage.auth_backends.ModelBackend",  # Django's, its permissions read in one query
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Argon2id at OWASP's cost (brokerage/hashers.py); hashes stored with PBKDF2 still verify and
# are rewritten as Argon2id at their owner's next sign-in.
PASSWORD_HASHERS = [
    "brokerage.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "brokerage.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "clients.forms.SignupForm"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = env("EMAIL_SUBJECT_PREFIX", default=f"[{SITE_NAME}] ")
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
MFA_ADAPTER = "brokerage.mfa.MFAAdapter"
# TOTP secrets are encrypted with this key (derived from DJANGO_SECRET_KEY when unset; then
# changing the secret key means every user enrols again).
MFA_ENCRYPTION_KEY = env("MFA_ENCRYPTION_KEY", default="")
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Brokerage back-office")
MFA_RECOVERY_CODE_COUNT = 10

# --- Security -------------------------------------------------------------------------------
# How many reverse proxies (load balancer, ingress) stand in front of the web servers and append
# to X-Forwarded-For. 0: the client is REMOTE_ADDR. Rate limits and audit IPs depend on it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "brokerage.views.csrf_failure"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Bootstrap components and Chart.js set element styles at run time.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Uploaded documents are private: never under STATIC_URL and never served by the web server.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.path("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Static files are served only under their hashed names (cached for ever), so only those are
# kept and compressed; source maps are fetched by developer tools alone and stay uncompressed.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
# Uploaded documents on S3-compatible storage instead: DOCUMENT_STORAGE=s3 and the bucket below.
# Objects are private (no public ACL), encrypted at rest, and reached only through our views.
if env("DOCUMENT_STORAGE", default="filesystem") == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("DOCUMENT_S3_BUCKET"),
            "endpoint_url": env("DOCUMENT_S3_ENDPOINT_URL", default=None),
            "region_name": env("DOCUMENT_S3_REGION", default=None),
            "access_key": env("DOCUMENT_S3_ACCESS_KEY", default=None),
            "secret_key": env("DOCUMENT_S3_SECRET_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="smtp://localhost:25")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Brokerage <no-reply@brokerage.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- The brokerage's legal identity (client documents: statements' footer) -------------------
BROKERAGE_NAME = env("BROKERAGE_NAME", default="Brokerage")
BROKERAGE_LICENCE = env("BROKERAGE_LICENCE", default="")
BROKERAGE_ADDRESS = env("BROKERAGE_ADDRESS", default="")
# Scheduled reports (brokerage.reports): the hour (UTC, 0-23) from which a day's report is sent
# the next day, and a week's on Monday.
REPORTS_SEND_HOUR = env.int("REPORTS_SEND_HOUR", default=6)
# The leadership rollups (brokerage.rollups): sync passes' new deals refresh the trading figures
# at most once in this many seconds (a money row's refresh runs one second after its commit).
ROLLUPS_DEALS_REFRESH_SECONDS = env.float("ROLLUPS_DEALS_REFRESH_SECONDS", default=5.0)

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Translations of what clients read (the emails of `clients.emails`): one catalogue per
# language in locale/<code>/LC_MESSAGES/django.po, compiled to .mo (`manage.py compilemessages`).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# One way of writing dates on every page (brokerage/formats/en/formats.py): `{{ x|date }}`
# and `{{ x|date:"DATETIME_FORMAT" }}`, "3 Dec 2026" and "3 Dec 2026, 14:05".
FORMAT_MODULE_PATH = ["brokerage.formats"]
USE_I18N = True
USE_TZ = True

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "brokerage.beat:BeatScheduler"  # django-celery-beat + heartbeat
# A queue per department; "default" takes the rest (health heartbeats, housekeeping).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_DEPARTMENT_QUEUES = ["leads", "kyc", "sync", "finance", "commissions", "compliance"]
CELERY_TASK_QUEUES = [Queue(name) for name in ["default", *CELERY_DEPARTMENT_QUEUES]]
CELERY_TASK_ROUTES = {f"{app}.tasks.*": {"queue": app} for app in ["leads", "kyc", "finance"]}
CELERY_TASK_ROUTES.update(
    {
        "clients.tasks.*": {"queue": "sync"},
        "ib.tasks.*": {"queue": "commissions"},
        "compliance.tasks.*": {"queue": "compliance"},
        "compliance.monitoring.tasks.*": {"queue": "compliance"},
        # Compliance's announcement of new terms to every client: batch work, off the sync queue.
        **{
            f"clients.tasks.{name}": {"queue": "compliance"}
            for name in (
                "terms_announce_task",
                "terms_announce_batch_task",
                "terms_announce_sweep_task",
            )
        },
    }
)
CELERY_HEARTBEAT_INTERVAL = env.int("CELERY_HEARTBEAT_INTERVAL", default=10)
CELERY_HEARTBEAT_TTL = env.int("CELERY_HEARTBEAT_TTL", default=45)

# --- Compliance ---------------------------------------------------------------------------------
# Dismissing a screening hit scoring at least this as a false positive needs a second compliance
# officer's approval (four eyes).
COMPLIANCE_FOUR_EYES_SCORE = env.float("COMPLIANCE_FOUR_EYES_SCORE", default=0.90)
# An AML case is due this many days after it opens; its deadline shows amber this many days
# before, red once past (compliance.models_cases).
COMPLIANCE_CASE_DUE_DAYS = env.int("COMPLIANCE_CASE_DUE_DAYS", default=30)
COMPLIANCE_CASE_DUE_SOON_DAYS = env.int("COMPLIANCE_CASE_DUE_SOON_DAYS", default=5)
# A case's draft suspicious activity report covers the client's money and deals from this many
# days before the case opened (or the earliest alert's window, if earlier).
COMPLIANCE_CASE_REPORT_DAYS = env.int("COMPLIANCE_CASE_REPORT_DAYS", default=365)
# The compliance workspace counts a screening hit or an AML alert undecided this many days as
# past its service level.
COMPLIANCE_ALERT_SLA_DAYS = env.int("COMPLIANCE_ALERT_SLA_DAYS", default=2)
# The client risk rating: a score at or above these is medium or high risk (compliance.risk),
# and periodic reviews fall due this many months after the last, by rating.
RISK_MEDIUM_SCORE = env.int("RISK_MEDIUM_SCORE", default=20)
RISK_HIGH_SCORE = env.int("RISK_HIGH_SCORE", default=40)
RISK_REVIEW_MONTHS_HIGH = env.int("RISK_REVIEW_MONTHS_HIGH", default=12)
RISK_REVIEW_MONTHS_MEDIUM = env.int("RISK_REVIEW_MONTHS_MEDIUM", default=24)
RISK_REVIEW_MONTHS_LOW = env.int("RISK_REVIEW_MONTHS_LOW", default=36)

# Leverage limits follow the client's residence (ESMA, FCA); on, a client's nationality's limits
# cap them too, the stricter per instrument class (docs/leverage-limits.md).
LEVERAGE_LIMITS_BY_NATIONALITY = env.bool("LEVERAGE_LIMITS_BY_NATIONALITY", default=False)

# --- KYC ---------------------------------------------------------------------------------------
# What an unverified client may deposit in total (USD); verified clients have no KYC limit.
KYC_UNVERIFIED_DEPOSIT_LIMIT_USD = env.int("KYC_UNVERIFIED_DEPOSIT_LIMIT_USD", default=2000)
# The same for a client an enhanced-due-diligence jurisdiction rule reaches (0: no deposit
# before the identity is verified).
KYC_EDD_UNVERIFIED_DEPOSIT_LIMIT_USD = env.int("KYC_EDD_UNVERIFIED_DEPOSIT_LIMIT_USD", default=0)
# Appropriateness questionnaire: share of points to pass, to pass after a risk warning; below
# that the client fails and may retry after the cooling-off period.
KYC_QUESTIONNAIRE_PASS = env.float("KYC_QUESTIONNAIRE_PASS", default=0.6)
KYC_QUESTIONNAIRE_WARN = env.float("KYC_QUESTIONNAIRE_WARN", default=0.35)
KYC_COOLING_OFF_DAYS = env.int("KYC_COOLING_OFF_DAYS", default=30)
# A submission still unchecked this many seconds after it was submitted (its check was lost with
# a worker or the broker) is queued again by the sweeper; a check still running is harmless to
# queue again (the first to record decides).
KYC_UNCHECKED_SWEEP_SECONDS = env.int("KYC_UNCHECKED_SWEEP_SECONDS", default=60)

# --- Finance: payment providers -----------------------------------------------------------------
# Each PSP's API base URL and secrets. Defaults are the providers' real endpoints; development and
# tests point them at the sandbox (SANDBOX_PSP_URL) through brokerage.settings.dev.
PSP_CONFIG = {
    "stripe": {
        "api_url": env("STRIPE_API_URL", default="https://api.stripe.com"),
        "secret_key": env("STRIPE_SECRET_KEY", default=""),
        "webhook_secret": env("STRIPE_WEBHOOK_SECRET", default=""),
    },
    "checkout": {
        "api_url": env("CHECKOUT_API_URL", default="https://api.checkout.com"),
        "secret_key": env("CHECKOUT_SECRET_KEY", default=""),
        "webhook_secret": env("CHECKOUT_WEBHOOK_SECRET", default=""),
    },
    "skrill": {
        "api_url": env("SKRILL_API_URL", default="https://www.skrill.com"),
        "merchant_id": env("SKRILL_MERCHANT_ID", default=""),
        "pay_to_email": env("SKRILL_PAY_TO_EMAIL", default=""),
        "secret_word": env("SKRILL_SECRET_WORD", default=""),
        "api_password": env("SKRILL_API_PASSWORD", default=""),
    },
    "coinpayments": {
        "api_url": env("COINPAYMENTS_API_URL", default="https://www.coinpayments.net"),
        "merchant_id": env("COINPAYMENTS_MERCHANT_ID", default=""),
        "ipn_secret": env("COINPAYMENTS_IPN_SECRET", default=""),
        "public_key": env("COINPAYMENTS_PUBLIC_KEY", default=""),
        "private_key": env("COINPAYMENTS_PRIVATE_KEY", default=""),
    },
}
# Outbound PSP calls give up after this many seconds (then the operation is looked up, never
# blindly repeated).
PSP_TIMEOUT_SECONDS = env.float("PSP_TIMEOUT_SECONDS", default=15.0)
# A payout's or refund's claim older than this belongs to an attempt that died (a worker killed
# mid-call): the sweeper resumes it, looking the operation up before sending anything. Keep it
# above the payout task's time limit (120 s), so a live attempt is never overtaken.
FINANCE_PAYOUT_CLAIM_STALE_SECONDS = env.int("FINANCE_PAYOUT_CLAIM_STALE_SECONDS", default=180)

# --- Finance: policy -----------------------------------------------------------------------------
# Withdrawals at or under this USD value are approved automatically when every check passes.
FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD = env.int(
    "FINANCE_WITHDRAWAL_AUTO_APPROVE_MAX_USD", default=2000
)
# Withdrawals at or over this USD value need two different finance officers (four eyes).
FINANCE_FOUR_EYES_USD = env.int("FINANCE_FOUR_EYES_USD", default=10000)
# Velocity: more withdrawal requests than this, or more USD than this, within 24 hours -> review.
FINANCE_VELOCITY_COUNT_24H = env.int("FINANCE_VELOCITY_COUNT_24H", default=3)
FINANCE_VELOCITY_USD_24H = env.int("FINANCE_VELOCITY_USD_24H", default=10000)
# Reconciliation: how many days apart a statement line and a ledger entry may be booked and still
# match on amount and currency.
FINANCE_RECONCILE_DATE_WINDOW_DAYS = env.int("FINANCE_RECONCILE_DATE_WINDOW_DAYS", default=3)
# Bank wires: the brokerage's account clients wire to (shown in the portal with each client's
# payment reference) and that pays wire withdrawals (the debtor of the pain.001 files). Unset:
# the portal offers no bank wire.
BANK_WIRE_BENEFICIARY = env("BANK_WIRE_BENEFICIARY", default="")
BANK_WIRE_IBAN = env("BANK_WIRE_IBAN", default="")
BANK_WIRE_BIC = env("BANK_WIRE_BIC", default="")
BANK_WIRE_BANK_NAME = env("BANK_WIRE_BANK_NAME", default="")

# --- Trading platforms ---------------------------------------------------------------------------
# Seconds a call to a trading server may take; a balance operation whose answer is lost is looked
# up by its comment before it is ever sent again.
PLATFORM_TIMEOUT_SECONDS = env.float("PLATFORM_TIMEOUT_SECONDS", default=15.0)
# A transfer's claim older than this belongs to an attempt that died: the sweeper looks its
# balance operation up by comment (and only then sends it). Above the transfer task's time limit.
FINANCE_TRANSFER_CLAIM_STALE_SECONDS = env.int("FINANCE_TRANSFER_CLAIM_STALE_SECONDS", default=120)
# Key for the trading servers' manager passwords at rest (default: derived from SECRET_KEY).
PLATFORM_ENCRYPTION_KEY = env("PLATFORM_ENCRYPTION_KEY", default="")
# How often beat runs a sync pass of every active server (seconds): its new deals each pass
# (a deal waits about half of this on average before a pass reads it)...
PLATFORM_SYNC_INTERVAL_SECONDS = env.float("PLATFORM_SYNC_INTERVAL_SECONDS", default=2.0)
# ...its open positions and account balances at most this often (their calls cover every
# account each time: the MT5 requests stay what they were when a pass ran every 10 s).
PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS = env.float(
    "PLATFORM_SYNC_BALANCES_INTERVAL_SECONDS", default=10.0
)
# /healthz reports a server's sync as "lagging" beyond this many seconds.
PLATFORM_SYNC_LAG_WARN_SECONDS = env.int("PLATFORM_SYNC_LAG_WARN_SECONDS", default=120)
# The symbol groups commission plans price by: instrument class -> group (docs/instruments.md).
# A class not listed is its own group; e.g. {"fx_major": "fx", "fx_minor": "fx", "fx_exotic":
# "fx"} prices all forex alike.
INSTRUMENT_SYMBOL_GROUPS: dict[str, str] = {}

# --- Links between clients (clients.links) ---------------------------------------------------
# Two clients' sign-ins (or sign-ups) from one IP address link them only this many days apart
# (addresses are reassigned); addresses many people share are listed in admin (shared networks).
CLIENT_LINKS_IP_WINDOW_DAYS = env.int("CLIENT_LINKS_IP_WINDOW_DAYS", default=30)
# Sign-in records (time, IP, user agent, device id) are deleted after this many days; a
# client's sign-up record is kept with the client.
CLIENT_ACCESS_RETENTION_DAYS = env.int("CLIENT_ACCESS_RETENTION_DAYS", default=730)

# --- IB commission disputes (ib.disputes) ---------------------------------------------------
# An adjustment of a disputed line above this (in the programme's currency, either sign) waits
# until a second IB manager approves it.
IB_ADJUSTMENT_APPROVAL_THRESHOLD = env.str("IB_ADJUSTMENT_APPROVAL_THRESHOLD", default="100")
# A rejected partner applicant may apply again this many days after the decision.
PARTNER_REAPPLY_DAYS = env.int("PARTNER_REAPPLY_DAYS", default=30)
# A window's commission run (the sweeper, a period's catch-up) is split by client into this many
# runs on as many database connections at once; 1 runs it whole. Default: the machine's cores.
IB_RUN_SHARDS = env.int("IB_RUN_SHARDS", default=min(os.cpu_count() or 1, 4))

# --- API ------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50

# --- Demo data (used only by `manage.py seed_demo`) -------------------------------------------
DEMO_PASSWORD = env("DEMO_PASSWORD", default="demo-pass-2026")
DEMO_TOTP_SECRET = env("DEMO_TOTP_SECRET", default="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
DEMO_API_KEY = env("DEMO_API_KEY", default="bo_demo_landing_0123456789abcdef0123456789")
# The demo's trading server: the MT5 sandbox (`python -m sandbox`) and its manager login.
SANDBOX_MT5_URL = env("SANDBOX_MT5_URL", default="http://127.0.0.1:8081")
SANDBOX_MT5_LOGIN = env("SANDBOX_MT5_LOGIN", default="1000")
SANDBOX_MT5_PASSWORD = env("SANDBOX_MT5_PASSWORD", default="sandbox-manager")
# The demo's payment providers: the PSP sandbox, told what the demo's payments were (empty: not).
SANDBOX_PSP_URL = env("SANDBOX_PSP_URL", default="")
# Clients in the demo's trading book (`seed_demo`; `--scale large` makes 50,000).
DEMO_BOOK_CLIENTS = env.int("DEMO_BOOK_CLIENTS", default=2000)

# --- Logging --------------------------------------------------------------------------------
# Every process logs to its standard error; `make up` sends each one's to its own file in
# var/log/ (web, worker, beat, sealer, sandbox), the containers to their log driver. A refused
# request (4xx) is one line, never a traceback. Each line is a JSON object (brokerage/logs.py:
# time, level, logger, message, request id, user, path, status, duration; a task's name and id);
# LOG_FORMAT=plain writes one line of text instead, for reading by eye.
LOG_FORMAT = env("LOG_FORMAT", default="json")
# Take a request's id from the X-Request-ID header the proxy in front sets (otherwise, and when
# the header is malformed, a new one is made). Leave off unless the proxy replaces the client's.
TRUST_REQUEST_ID_HEADER = env.bool("TRUST_REQUEST_ID_HEADER", default=False)
# Prometheus metrics (brokerage/metrics.py): every process (gunicorn's workers, Celery's pool)
# writes its counts to files in this directory, emptied when the deployment starts; empty: one
# process's own counts. /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (unset:
# /metrics is off).
METRICS_DIR = env("METRICS_DIR", default=str(VAR_DIR / "metrics"))
METRICS_TOKEN = env("METRICS_TOKEN", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "client_errors": {"()": "brokerage.logfilters.ClientErrorsWithoutTraceback"},
        "context": {"()": "brokerage.logs.ContextFilter"},
    },
    "formatters": {
        "json": {"()": "brokerage.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["client_errors", "context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers print a second copy of every request error when DEBUG is on.
        "django": {"handlers": [], "level": "INFO"},
    },
}
