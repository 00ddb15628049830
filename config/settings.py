"""Settings for every process (web, worker, beat), read from the environment with embedded defaults.

Without any environment the project runs embedded: SQLite, Celery tasks run eagerly after commit,
local-memory cache, console email. Point DATABASE_URL, CELERY_BROKER_URL and CACHE_URL at PostgreSQL,
RabbitMQ and Redis to run the real topology. DEBUG=false switches on the production hardening.
"""

from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as default_cors_headers

from integration import placement

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# The embedded default has a fixed development key; production must set SECRET_KEY (checked below).
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789abcdefghijklmnop")
if not DEBUG and SECRET_KEY.startswith("dev-only-"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

# The bounded contexts, in dependency order. Each is a Django app whose AppConfig declares its boundary.
CONTEXT_APPS = [
    "contexts.users",
    "contexts.catalog",
    "contexts.orders",
    "contexts.payments",
    "contexts.shipping",
    "contexts.notifications",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_ratelimit",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "integration",
    *CONTEXT_APPS,
]

# --- Placement: the contexts this deployment holds (integration.placement) ---------------------------
# CONTEXTS_REMOTE: the contexts this process calls over HTTP, by base URL (JSON: {"payments":
# "http://payments:8000"}); each is the resilience dependency "context-<name>" (timeouts, retries,
# breaker: RESILIENCE_DEPENDENCIES). CONTEXTS_LOCAL: the contexts whose tables are in this deployment's
# database (comma-separated; unset: every context not remote). Everything else follows from it: the
# database router refuses the other contexts' models and migrations, the admin lists only these, the
# api served at /internal/, the Celery queues a worker consumes, the beat schedule, the event consumer's
# handlers. A context with an api must be local or remote (system check integration.E008).
CONTEXTS = [app.rsplit(".", 1)[1] for app in CONTEXT_APPS]
CONTEXTS_REMOTE = placement.remote_contexts(CONTEXTS, configured=env.str("CONTEXTS_REMOTE", default="{}"))
CONTEXTS_LOCAL = placement.local_contexts(
    CONTEXTS, configured=env.list("CONTEXTS_LOCAL", default=None), remote=CONTEXTS_REMOTE
)
DATABASE_ROUTERS = ["integration.db.LocalContextsRouter"]

MIDDLEWARE = [
    "integration.edge.middleware.RequestIdMiddleware",
    "integration.edge.middleware.ProblemDetailsMiddleware",
    # Before anything reads the path or query: NUL and lone surrogates are refused at the door, and
    # a path missing only its trailing slash is served, never redirected (integration.edge.middleware).
    "integration.edge.middleware.StorableInputMiddleware",
    "integration.edge.middleware.TrailingSlashMiddleware",
    # A plain-HTTP POST/PUT/PATCH/DELETE is refused, never redirected to HTTPS (reads still are).
    "integration.edge.middleware.HttpsWritesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # In production gunicorn serves the admin's and the API docs' static files itself (collected by
    # `make web`); with DEBUG the dev server's staticfiles app does.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# Persistent, health-checked connections in every process: a fresh connection per request or task
# costs more than the work itself (see the README's performance notes).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; wait for the lock instead of failing, and use WAL so readers don't block.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)

# --- Cache (rate limits, token denylist) ----------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://shop-default")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 2, "socket_timeout": 2})
    # The same backend, minus a new redis client object per operation (see integration.edge.cache).
    CACHES["default"]["BACKEND"] = "integration.edge.cache.RedisCache"
CACHE_IS_SHARED = CACHES["default"]["BACKEND"] != "django.core.cache.backends.locmem.LocMemCache"
# django-ratelimit's system check knows only memcached and django-redis. Django's RedisCache (which
# ours extends) has the atomic add/incr it needs (W001 is noise), and the embedded default's local
# memory is shared by its single process (E003 would stop `make run`); other backends keep the check.
SILENCED_SYSTEM_CHECKS = []
if CACHES["default"]["BACKEND"] == "integration.edge.cache.RedisCache":
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.W001")
elif not CACHE_IS_SHARED:
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

# --- Internationalisation --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies for WhiteNoise; no hashed manifest, so a process started before collectstatic
    # answers 404 for a stylesheet rather than 500 for a page.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="shop@localhost")

# --- Edge: CORS, proxies, security headers ---------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = False
# Browsers may send the headers the API reads (preflighted: Idempotency-Key, X-Request-ID, the
# conditional ones) and read the ones it answers with (the replay mark, ETag, Retry-After).
CORS_ALLOW_HEADERS = [*default_cors_headers, "idempotency-key", "x-request-id", "if-match", "if-none-match"]
CORS_EXPOSE_HEADERS = ["X-Request-ID", "Retry-After", "ETag", "Idempotent-Replayed"]
CORS_URLS_REGEX = r"^/api/.*$"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Client IPs: REMOTE_ADDR unless the request came through one of these proxies (then X-Forwarded-For).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# A JSON body nesting arrays/objects deeper than this is a 400 (integration.edge.parsers).
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)

# Rate limits (integration.edge.ratelimit): django-ratelimit counters in the shared cache, in its
# notation ("5/m", "10/h"). A cache that cannot be reached refuses requests (503), it never fails open.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = False
RATE_LIMITS = {
    "LOGIN_PER_IP": env("RATE_LIMIT_LOGIN_PER_IP", default="5/m"),
    "LOGIN_PER_EMAIL": env("RATE_LIMIT_LOGIN_PER_EMAIL", default="5/m"),
    "REGISTER_PER_IP": env("RATE_LIMIT_REGISTER_PER_IP", default="10/h"),
    "API_USER": env("RATE_LIMIT_API_USER", default="600/m"),
    "API_ANON": env("RATE_LIMIT_API_ANON", default="300/m"),
}

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^api/health$", r"^api/ready$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integration.edge.auth.JWTAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["integration.edge.ratelimit.ApiRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integration.edge.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "integration.edge.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "integration.edge.schema.ShopAutoSchema",
    "EXCEPTION_HANDLER": "integration.edge.problems.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
}

# Tokens are issued by the users context and checked at the edge (integration.edge.auth) by every
# context. Decoding accepts exactly ALGORITHM: no "none", no algorithm switching.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_TTL_SECONDS", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_TTL_SECONDS", default=7 * 86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "LEEWAY": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Shop API",
    "DESCRIPTION": (
        "Storefront REST API of the shop modular monolith. Errors are `application/problem+json` "
        "(RFC 9457, the `Problem` schema) with a stable `type`. Money is a decimal string with an ISO 4217 "
        "`currency`; timestamps are ISO 8601 UTC. JSON bodies hold values of the documented JSON types; "
        "no string anywhere may contain NUL or a lone UTF-16 surrogate, and no number may leave the "
        "signed 64-bit range. Members a request schema does not list are ignored. Every response "
        "carries `X-Request-ID`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Clients are generated from this schema: request and response shapes are separate components
    # (a read-only field is not a field to send; a required text field is not blank).
    "COMPONENT_SPLIT_REQUEST": True,
    # Security, problem responses, pagination and field rules are inferred in integration.edge.schema.
    "PREPROCESSING_HOOKS": ["integration.edge.schema.public_api_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integration.edge.schema.problem_components",
    ],
}

# --- Celery -----------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
# No broker configured: the embedded default runs every task in-process, after commit.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=4.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Redis/SQS redeliver an unacked message after this; RabbitMQ's own consumer_timeout is 30 min.
# Every countdown/ETA the project schedules stays below it (integration.bus.MAX_COUNTDOWN_SECONDS).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# RabbitMQ's consumer_timeout (server setting, 30 min by default): how long it lets a consumer hold an
# unacked message, which is how workers hold tasks with a countdown. Not a Celery setting.
BROKER_CONSUMER_TIMEOUT = env.int("BROKER_CONSUMER_TIMEOUT", default=1800)
# Reuse the worker's database connection across tasks (Celery's Django fixup closes it around every
# task otherwise); integration.apps closes it on error or when it outlives CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# A queue per local context and this deployment's own integration queue ("integration" when it holds
# every context); `celery worker` without -Q consumes exactly these. Task names are
# "<context>.<verb_noun>": the prefix is the queue (integration's: this deployment's integration queue).
CELERY_TASK_QUEUES = placement.task_queues(CONTEXTS, CONTEXTS_LOCAL)
CELERY_TASK_DEFAULT_QUEUE = placement.integration_queue(CONTEXTS, CONTEXTS_LOCAL)
CELERY_TASK_DEFAULT_EXCHANGE = CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_DEFAULT_ROUTING_KEY = CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_ROUTES = placement.task_routes(CONTEXTS, CONTEXTS_LOCAL)

CELERY_BEAT_SCHEDULE = {
    "integration.sweep_outbox": {
        "task": "integration.sweep_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=10.0),
    },
}

# --- Users -------------------------------------------------------------------------------------------
# Expired refresh tokens (and their blacklist rows) are deleted once a day.
CELERY_BEAT_SCHEDULE["users.flush_expired_tokens"] = {
    "task": "users.flush_expired_tokens",
    "schedule": env.float("USERS_TOKEN_FLUSH_SECONDS", default=86400.0),
}

# --- Catalog -----------------------------------------------------------------------------------------
# Expired reservations give their stock back within this many seconds of expiring.
CELERY_BEAT_SCHEDULE["catalog.release_expired_reservations"] = {
    "task": "catalog.release_expired_reservations",
    "schedule": env.float("CATALOG_RESERVATION_SWEEP_SECONDS", default=15.0),
}

# /ready runs its checks at most this often per process (it is public and opens a broker connection).
READY_CACHE_SECONDS = env.float("READY_CACHE_SECONDS", default=2.0)

# --- Payments -----------------------------------------------------------------------------------------
# The provider adapter (a dotted path to a class); the in-process sandbox by default.
PAYMENTS_PROVIDER = env("PAYMENTS_PROVIDER", default="contexts.payments.providers.sandbox.SandboxProvider")
# Attempts per keyed provider call (the first included) before its outcome is declared in doubt.
PAYMENTS_PROVIDER_ATTEMPTS = env.int("PAYMENTS_PROVIDER_ATTEMPTS", default=3)
# Beat settles payments left in doubt (contexts.payments.in_doubt): those in doubt longer than the grace
# (their caller's own retry usually settles them first; keep it above attempts x the provider's read
# timeout), at most BATCH a run. An authorization found on a payment older than VOID_AFTER is voided:
# that checkout is abandoned (keep it above the saga's deadline for payment), so the hold is released.
PAYMENTS_IN_DOUBT_GRACE_SECONDS = env.float("PAYMENTS_IN_DOUBT_GRACE_SECONDS", default=60.0)
PAYMENTS_IN_DOUBT_BATCH = env.int("PAYMENTS_IN_DOUBT_BATCH", default=100)
PAYMENTS_IN_DOUBT_VOID_AFTER_SECONDS = env.float("PAYMENTS_IN_DOUBT_VOID_AFTER_SECONDS", default=3600.0)
CELERY_BEAT_SCHEDULE["payments.settle_in_doubt"] = {
    "task": "payments.settle_in_doubt",
    "schedule": env.float("PAYMENTS_IN_DOUBT_SWEEP_SECONDS", default=60.0),
}
# The secret(s) the provider signs its webhooks with (Shop-Signature, integration.webhooks): several,
# comma-separated, while a secret is rotated. The embedded default is public; `check --deploy` refuses it.
PAYMENTS_WEBHOOK_SECRET = env("PAYMENTS_WEBHOOK_SECRET", default="dev-only-payments-webhook-secret")
# Pause between the attempts above (equal jitter, integration.backoff): the first ceiling and the cap,
# in seconds. Only adapters that leave retrying to the services are paused and retried; the HTTP adapter
# retries through its resilient client (RESILIENCE["DEPENDENCIES"]["payments-provider"]) instead.
PAYMENTS_PROVIDER_BACKOFF_BASE = env.float("PAYMENTS_PROVIDER_BACKOFF_BASE", default=0.1)
PAYMENTS_PROVIDER_BACKOFF_MAX = env.float("PAYMENTS_PROVIDER_BACKOFF_MAX", default=1.0)
# The name the HTTP adapter (contexts.payments.providers.http.HttpProvider) records on its payments.
PAYMENTS_HTTP_PROVIDER_NAME = env("PAYMENTS_HTTP_PROVIDER_NAME", default="stub")

# --- Shipping -----------------------------------------------------------------------------------------
# The carrier adapter (a dotted path to a class); the in-process sandbox (carrier name `sandbox`) by
# default, or contexts.shipping.carriers.http.HttpCarrier for a carrier's REST API, reached as the
# resilience dependency "shipping-carrier" (its base_url in RESILIENCE_DEPENDENCIES).
SHIPPING_CARRIER = env("SHIPPING_CARRIER", default="contexts.shipping.carriers.sandbox.SandboxCarrier")
# The HTTP adapter's carrier name (its webhooks arrive at /api/v1/shipping/webhooks/<name>/) and API key.
SHIPPING_HTTP_CARRIER_NAME = env("SHIPPING_HTTP_CARRIER_NAME", default="carrier")
SHIPPING_HTTP_CARRIER_API_KEY = env("SHIPPING_HTTP_CARRIER_API_KEY", default="")
# The secret(s) carriers sign their tracking webhooks with (Shop-Signature, integration.webhooks): several,
# comma-separated, while a secret is rotated. The embedded default is public; `check --deploy` refuses it.
SHIPPING_WEBHOOK_SECRET = env("SHIPPING_WEBHOOK_SECRET", default="dev-only-shipping-webhook-secret")
# A shipment's status and a tracking event's are two enums of one field name: each gets its own name.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "ShipmentStatusEnum": "contexts.shipping.models.Status",
    "TrackingStatusEnum": "contexts.shipping.lifecycle.TRACKING_STATUSES",
}

# --- Notifications ---------------------------------------------------------------------------------
# Email goes through EMAIL_BACKEND (above): the console by default; in production
# django.core.mail.backends.smtp.EmailBackend with these. A send that takes longer than EMAIL_TIMEOUT
# seconds fails and is retried, rather than holding a worker.
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
NOTIFICATIONS = {
    # SMS and push adapters (dotted paths): the in-process sandboxes record what they would send; the
    # HTTP adapters (contexts.notifications.providers.http.HttpSms / HttpPush) call the "sms" and
    # "push" dependencies configured in RESILIENCE_DEPENDENCIES.
    "SMS_PROVIDER": env(
        "NOTIFICATIONS_SMS_PROVIDER", default="contexts.notifications.providers.sandbox.SandboxSms"
    ),
    "PUSH_PROVIDER": env(
        "NOTIFICATIONS_PUSH_PROVIDER", default="contexts.notifications.providers.sandbox.SandboxPush"
    ),
    # Attempts per message (the first included) before it is failed for an operator to resend.
    "MAX_ATTEMPTS": env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5),
    "BACKOFF_BASE_SECONDS": env.float("NOTIFICATIONS_BACKOFF_BASE_SECONDS", default=10.0),
    "BACKOFF_MAX_SECONDS": env.float("NOTIFICATIONS_BACKOFF_MAX_SECONDS", default=600.0),
    # A queued message still unsent this long after it was due lost its task: the sweep sends it again.
    "STALE_SECONDS": env.float("NOTIFICATIONS_STALE_SECONDS", default=120.0),
    # The most characters one part of a message (subject, text body, HTML body) may render: a template
    # that needs more is refused on save, and a message that needs more is logged `failed`.
    "MAX_BODY_CHARS": env.int("NOTIFICATIONS_MAX_BODY_CHARS", default=100_000),
}
# The API's one name for the channel lists' values (both lists share them).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "NotificationChannelEnum": "contexts.notifications.data.CHANNELS",
}
# Sends what quiet hours held back once they end (and what a lost task left queued).
CELERY_BEAT_SCHEDULE["notifications.send_due"] = {
    "task": "notifications.send_due",
    "schedule": env.float("NOTIFICATIONS_SWEEP_SECONDS", default=30.0),
}

# --- Orders ------------------------------------------------------------------------------------------
ORDERS = {
    # Seconds the saga holds a reservation, from the reserve and again from each later step.
    "RESERVATION_TTL_SECONDS": env.int("ORDERS_RESERVATION_TTL_SECONDS", default=900),
    # Multiplies every pause between a saga step's attempts (the saga table's backoff, in seconds).
    "SAGA_BACKOFF_SCALE": env.float("ORDERS_SAGA_BACKOFF_SCALE", default=1.0),
    # Lets a test hold a step between its participant call and its result (never in production).
    "TEST_HOOKS": env.bool("ORDERS_TEST_HOOKS", default=False),
}
# Order statuses are their own enum in the OpenAPI schema (payments' statuses are another).
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["OrderStatusEnum"] = (
    "contexts.orders.models.Order.Status"
)
# The saga sweeper fails steps past their deadline and resends overdue compensations.
CELERY_BEAT_SCHEDULE["orders.sweep_sagas"] = {
    "task": "orders.sweep_sagas",
    "schedule": env.float("ORDERS_SAGA_SWEEP_SECONDS", default=10.0),
}

# --- Service interfaces (integration.services) --------------------------------------------------------
SERVICES = {
    # Round-trip every in-process api call's arguments, result and errors through the JSON codec, as a
    # remote call would: on in the test settings, so nothing unserialisable creeps into an interface.
    "CODEC_ROUND_TRIP": env.bool("SERVICES_CODEC_ROUND_TRIP", default=False),
}
# Extracted contexts (integration.services.remote; CONTEXTS_REMOTE and CONTEXTS_LOCAL are under
# Placement, above). CONTEXTS_SERVED: the contexts whose api this process serves at
# /internal/<context>/<function>/ (comma-separated; unset: every local context with an api).
# CONTEXTS_READY_REQUIRED: remote contexts without which /ready is 503 (any other one that is
# unreachable leaves it 200, "degraded").
CONTEXTS_SERVED = env.list("CONTEXTS_SERVED", default=None)
CONTEXTS_READY_REQUIRED = env.list("CONTEXTS_READY_REQUIRED", default=[])
# The secret every process of the deployment signs and checks service tokens with (comma-separated
# while rotating: the first signs). The embedded default is public; `check --deploy` refuses it.
SERVICE_TOKEN_SECRET = env("SERVICE_TOKEN_SECRET", default="dev-only-service-token-secret")
# A token is made per call: it need only outlive the trip and clock skew between hosts.
SERVICE_TOKEN_TTL_SECONDS = env.int("SERVICE_TOKEN_TTL_SECONDS", default=60)
# Either wrong would refuse every internal call, in both directions, and only once the processes run.
if not SERVICE_TOKEN_SECRET.replace(",", "").strip() or SERVICE_TOKEN_TTL_SECONDS < 1:
    from django.core.exceptions import ImproperlyConfigured

    if SERVICE_TOKEN_TTL_SECONDS < 1:
        raise ImproperlyConfigured(
            f"SERVICE_TOKEN_TTL_SECONDS must be 1 or more, not {SERVICE_TOKEN_TTL_SECONDS}"
        )
    raise ImproperlyConfigured("SERVICE_TOKEN_SECRET is empty: no service token could be made or checked")
# Internal calls travel inside the deployment's network, often over plain HTTP: a POST there must not be
# refused for want of HTTPS (integration.edge.middleware.HttpsWritesMiddleware).
SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^internal/"]

# --- The event bus ---------------------------------------------------------------------------------
BUS = {
    # A delivery that fails this many times in a row is dead-lettered for an operator.
    "MAX_ATTEMPTS": env.int("BUS_MAX_ATTEMPTS", default=8),
    "BACKOFF_BASE_SECONDS": env.float("BUS_BACKOFF_BASE_SECONDS", default=2.0),
    "BACKOFF_MAX_SECONDS": env.float("BUS_BACKOFF_MAX_SECONDS", default=600.0),
    # The sweep leaves rows younger than this to the after-commit dispatch.
    "SWEEP_GRACE_SECONDS": env.float("BUS_SWEEP_GRACE_SECONDS", default=5.0),
    "SWEEP_BATCH": env.int("BUS_SWEEP_BATCH", default=500),
    # /ready reports degraded when the oldest undispatched message is older than this.
    "READY_MAX_LAG_SECONDS": env.float("BUS_READY_MAX_LAG_SECONDS", default=120.0),
    # Opt in to committing deliveries without waiting for the WAL flush (PostgreSQL). Off by default:
    # it relaxes the handlers' own business writes too; see integration.bus.core._relax_durability.
    "ASYNC_COMMIT": env.bool("BUS_ASYNC_COMMIT", default=False),
}

# --- Remote event transport (integration.bus.rabbitmq) ----------------------------------------------
# "celery" (default): the relay hands each delivery to Celery as a task on the subscriber's queue.
# "rabbitmq": a relay process (`manage.py relay_events`) publishes the outbox to a topic exchange per
# source context, and consumer processes (`manage.py consume_events`) run the handlers from a queue per
# handler; every process of a deployment must agree. BUS_MAX_ATTEMPTS and the backoff above apply.
BUS["TRANSPORT"] = env("BUS_TRANSPORT", default="celery")
if BUS["TRANSPORT"] not in ("celery", "rabbitmq"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"BUS_TRANSPORT must be 'celery' or 'rabbitmq', not {BUS['TRANSPORT']!r}")
# The RabbitMQ the events travel through (amqp://...); the Celery broker when unset.
BUS["BROKER_URL"] = env("BUS_BROKER_URL", default="")
# Outbox rows the relay claims, publishes and waits for the confirms of, per batch; how long it waits
# for a batch's confirms (then nothing of it counts as sent); its pause when the outbox is empty.
BUS["RELAY_BATCH"] = env.int("BUS_RELAY_BATCH", default=500)
BUS["CONFIRM_TIMEOUT_SECONDS"] = env.float("BUS_CONFIRM_TIMEOUT_SECONDS", default=10.0)
BUS["RELAY_IDLE_SECONDS"] = env.float("BUS_RELAY_IDLE_SECONDS", default=0.2)
BUS["CONNECT_TIMEOUT_SECONDS"] = env.float("BUS_CONNECT_TIMEOUT_SECONDS", default=4.0)
# Unacked messages a consumer holds per handler queue.
BUS["CONSUMER_PREFETCH"] = env.int("BUS_CONSUMER_PREFETCH", default=20)
# How long a dead-lettered message stays in its dead-letter queue (the admin keeps its delivery row).
# Fixed when the queue is first declared: changing it later needs the queue deleted or a policy.
BUS["DEAD_LETTER_TTL_SECONDS"] = env.float("BUS_DEAD_LETTER_TTL_SECONDS", default=14 * 86400.0)

# --- Idempotency-Key on unsafe requests (integration.idempotency) -----------------------------------
IDEMPOTENCY = {
    # How long a key and its stored answer are kept (as Stripe does); beat purges older keys.
    "RETENTION_SECONDS": env.int("IDEMPOTENCY_RETENTION_SECONDS", default=86400),
    # After this, a claim whose request never finished (its process died) may be taken over by a
    # retry. Twice gunicorn's worker timeout (30 s, which kills a sync worker stuck in a request), so
    # a claim this old belongs to a request that no longer runs anywhere, with room for clock skew.
    "IN_FLIGHT_SECONDS": env.int("IDEMPOTENCY_IN_FLIGHT_SECONDS", default=60),
    "PURGE_BATCH": env.int("IDEMPOTENCY_PURGE_BATCH", default=5000),
}
# --- Webhooks received (integration.webhooks) --------------------------------------------------------
WEBHOOKS = {
    # How long a delivery's event id is remembered, so its redelivery changes nothing: longer than any
    # sender keeps retrying (card processors retry for up to three days).
    "RETENTION_SECONDS": env.int("WEBHOOKS_RETENTION_SECONDS", default=30 * 86400),
    "PURGE_BATCH": env.int("WEBHOOKS_PURGE_BATCH", default=1000),
}
CELERY_BEAT_SCHEDULE["integration.purge_webhook_deliveries"] = {
    "task": "integration.purge_webhook_deliveries",
    "schedule": env.float("WEBHOOKS_PURGE_SECONDS", default=86400.0),
}

CELERY_BEAT_SCHEDULE["integration.purge_idempotency_keys"] = {
    "task": "integration.purge_idempotency_keys",
    "schedule": env.float("IDEMPOTENCY_PURGE_SECONDS", default=3600.0),
}

# Every deployment runs its own beat: it schedules its local contexts' periodic tasks and integration's
# (on its own integration queue, so each database is swept and purged by its own workers).
CELERY_BEAT_SCHEDULE = placement.beat_schedule(CELERY_BEAT_SCHEDULE, CONTEXTS_LOCAL)

# --- Outbound HTTP: providers and extracted contexts (integration.resilience) ---------------------
# Per dependency: timeouts (seconds), attempts (the first included) and backoff between them, the
# longest Retry-After worth waiting for, and the circuit breaker, whose state Redis shares with every
# process. A dependency's entry is merged over DEFAULTS; one without an entry gets DEFAULTS.
RESILIENCE = {
    "DEFAULTS": {
        "base_url": "",
        "connect_timeout": env.float("RESILIENCE_CONNECT_TIMEOUT", default=2.0),
        "read_timeout": env.float("RESILIENCE_READ_TIMEOUT", default=5.0),
        "max_attempts": env.int("RESILIENCE_MAX_ATTEMPTS", default=3),
        "backoff_base": 0.2,
        "backoff_max": 2.0,
        "retry_after_cap": env.float("RESILIENCE_RETRY_AFTER_CAP", default=5.0),
        "breaker": {
            # Opens after fail_max consecutive failures, or when at least failure_rate of the calls in
            # the last `window` seconds failed (once there were min_calls); a trial after reset_timeout.
            "fail_max": env.int("RESILIENCE_BREAKER_FAIL_MAX", default=5),
            "failure_rate": 0.5,
            "window": 10.0,
            "min_calls": 10,
            "reset_timeout": env.float("RESILIENCE_BREAKER_RESET_TIMEOUT", default=30.0),
        },
    },
    # {"<name>": {"base_url": "https://...", "read_timeout": 10, "breaker": {"fail_max": 3}}, ...}
    "DEPENDENCIES": env.json("RESILIENCE_DEPENDENCIES", default={}),
}

# --- Logging (structlog, JSON in production, readable in development) ----------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("LOG_JSON", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {
            "()": "structlog.stdlib.ProcessorFormatter",
            "processors": "ext://integration.logging.JSON_PROCESSORS"
            if LOG_JSON
            else "ext://integration.logging.CONSOLE_PROCESSORS",
            "foreign_pre_chain": "ext://integration.logging.FOREIGN_PRE_CHAIN",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING"},
    },
}

# The operator account that `make run` creates (seed_demo); never created when DEBUG is false.
DEMO_ADMIN_EMAIL = env("DEMO_ADMIN_EMAIL", default="admin@example.com")
DEMO_ADMIN_PASSWORD = env("DEMO_ADMIN_PASSWORD", default="admin12345")
