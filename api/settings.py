"""Django settings, all from the environment: every variable is declared once in utils/config.py
(type, default, meaning; docs/settings.md lists them).

Development (the default) runs anywhere; ``DJANGO_CONFIGURATION=Production``
refuses to start with the development secret key or with DEBUG on.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from antinex.utils import config
from antinex.utils.consts import API_QUEUE, RESULTS_TASK_NAME


def setting(name: str):
    """A setting as the API reads it (declared once in utils/config.py, with its default and meaning)."""
    try:
        return config.value(name, "api")
    except config.SettingError as exc:
        raise ImproperlyConfigured(str(exc)) from None


BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent
CONFIGURATION = setting("DJANGO_CONFIGURATION")
DEV_SECRET_KEY = "antinex-development-key-do-not-use-in-production"
# the key itself, or a file holding it (run-all.sh keeps one under var/secrets/)
SECRET_KEY_FILE = setting("DJANGO_SECRET_KEY_FILE")
SECRET_KEY = setting("DJANGO_SECRET_KEY") or (
    SECRET_KEY_FILE.read_text().strip() if SECRET_KEY_FILE else DEV_SECRET_KEY)
DEBUG = setting("DJANGO_DEBUG")
ALLOWED_HOSTS = setting("DJANGO_ALLOWED_HOSTS")

if CONFIGURATION == "Production":
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("Production needs DJANGO_SECRET_KEY: a random secret of 32+ characters")
    if DEBUG:
        raise ImproperlyConfigured("Production refuses to run with DJANGO_DEBUG on")
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured("Production needs DJANGO_ALLOWED_HOSTS (not '*')")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = setting("DJANGO_SECURE_COOKIES")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_yasg",
    "antinex.api.ml",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # after WhiteNoise: the policy is for pages, not for the static files they load
    "antinex.api.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "antinex.api.urls"
WSGI_APPLICATION = "antinex.api.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [BASE_DIR / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]


def _database() -> dict:
    if setting("DATABASE_URL"):
        return dj_database_url.parse(setting("DATABASE_URL"), conn_max_age=60)
    if setting("POSTGRES_DB"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": setting("POSTGRES_DB"),
            "HOST": setting("POSTGRES_HOST"),
            "PORT": str(setting("POSTGRES_PORT")),
            "USER": setting("POSTGRES_USER"),
            "PASSWORD": setting("POSTGRES_PASSWORD"),
            "CONN_MAX_AGE": 60,
        }
    if CONFIGURATION == "Production":
        raise ImproperlyConfigured("Production needs DATABASE_URL or POSTGRES_DB (SQLite is for the quick start)")
    # the embedded default, for the zero-setup quick start only
    return {"ENGINE": "django.db.backends.sqlite3",
            "NAME": str(setting("ANTINEX_SQLITE"))}


DATABASES = {"default": _database()}
# a reused connection is checked before each request, so the first request after
# a PostgreSQL restart does not fail on a dead socket
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = []  # the API's own rules live in api/ml/serializers.py
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = setting("ANTINEX_STATIC_ROOT")
DOCS_HTML_DIR = setting("ANTINEX_DOCS_DIR")
DATA_UPLOAD_MAX_MEMORY_SIZE = setting("ANTINEX_MAX_BODY_BYTES")

# failed logins (POST /api-token-auth/, the admin login) allowed per client address and
# per username in each period: "N/second|minute|hour|day" (api/ml/tokens.py)
LOGIN_RATE = setting("ANTINEX_LOGIN_RATE")
if not re.fullmatch(r"[1-9]\d*/[smhd][a-z]*", LOGIN_RATE):
    raise ImproperlyConfigured(f"ANTINEX_LOGIN_RATE={LOGIN_RATE!r}: must look like 20/minute")

REST_FRAMEWORK = {
    # JWT for clients, the session for the browsable pages and the admin; no HTTP Basic:
    # it would be a second, unthrottled password-guessing door on every endpoint
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "antinex.api.ml.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"login": LOGIN_RATE},
    # the client address the login throttle counts: 0 = the TCP peer; behind N trusted
    # proxies, the Nth address from the right of X-Forwarded-For
    "NUM_PROXIES": setting("ANTINEX_NUM_PROXIES"),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "EXCEPTION_HANDLER": "antinex.api.ml.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=setting("JWT_ACCESS_MINUTES")),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=setting("JWT_REFRESH_DAYS")),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("JWT", "Bearer"),
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": True,
}

SWAGGER_SETTINGS = {
    "SECURITY_DEFINITIONS": {
        "JWT": {"type": "apiKey", "name": "Authorization", "in": "header",
                "description": "JWT <token> (from POST /api-token-auth/)"},
    },
    "USE_SESSION_AUTH": False,
}

# --- Celery (API worker) ----------------------------------------------------
CELERY_ENABLED = setting("CELERY_ENABLED")
CELERY_BROKER_URL = setting("ANTINEX_API_BROKER_URL")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not CELERY_ENABLED
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # a dead worker's unacknowledged job comes back after this many seconds;
    # task bodies are idempotent by job id so a redelivery never duplicates
    "visibility_timeout": setting("ANTINEX_API_VISIBILITY_TIMEOUT"),
}
CELERY_TASK_DEFAULT_QUEUE = API_QUEUE
CELERY_TASK_ROUTES = {RESULTS_TASK_NAME: {"queue": RESULTS_TASK_NAME}}

# --- cache: the login throttle's counters, shared by every gunicorn process --
CACHES = {"default": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": setting("ANTINEX_CACHE_URL"),
    # shares the broker's Redis database by default: never cache.clear() (a FLUSHDB)
    "KEY_PREFIX": "antinex",
    # a Redis that does not answer must not hold a login for long
    "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
}}

# --- AntiNex core -----------------------------------------------------------
ANTINEX_WORKER_ENABLED = setting("ANTINEX_WORKER_ENABLED")
ANTINEX_AUTH_URL = setting("ANTINEX_CORE_BROKER_URL")  # the original API's name for the core's broker
ANTINEX_RESULT_AUTH_URL = setting("ANTINEX_RESULT_AUTH_URL")
TRAIN_QUEUE = setting("TRAIN_QUEUE")
PREDICT_QUEUE = setting("PREDICT_QUEUE")
ANTINEX_DATASETS_DIRS = setting("ANTINEX_DATASETS_DIR")
ANTINEX_MODEL_STORE = setting("ANTINEX_MODEL_STORE")
# every user's own folder (user_<id>) lives here: read and written by that user
# only; the ANTINEX_DATASETS_DIR directories are read-only shared data
ANTINEX_USER_DATA_DIR = setting("ANTINEX_USER_DATA_DIR")


def _check_secret_key_file() -> None:
    """The key that signs every token must never lie where a request can name a path."""
    if not SECRET_KEY_FILE:
        return
    key = Path(SECRET_KEY_FILE).resolve()
    for name, root in [("ANTINEX_DATASETS_DIR", d) for d in ANTINEX_DATASETS_DIRS] + [
            ("ANTINEX_USER_DATA_DIR", ANTINEX_USER_DATA_DIR), ("ANTINEX_MODEL_STORE", ANTINEX_MODEL_STORE)]:
        if key.is_relative_to(Path(root).resolve()):
            raise ImproperlyConfigured(f"DJANGO_SECRET_KEY_FILE {key} is inside {name} ({root}): move it out")


_check_secret_key_file()
# how often a task retries while PostgreSQL is unreachable (backoff capped at 30 s:
# the default 240 retries ride out about two hours of database downtime)
ANTINEX_DB_RETRIES = setting("ANTINEX_DB_RETRIES")
# the longest GET /mlresults/{id}/?wait=S may block (each waiting request holds a
# gunicorn thread and a database connection)
ANTINEX_MAX_WAIT_SECONDS = setting("ANTINEX_MAX_WAIT_SECONDS")
# how many long polls one API process holds at once; beyond that a GET answers at
# once with "Antinex-Wait: busy", so waiting clients never take every thread
ANTINEX_MAX_CONCURRENT_WAITS = setting("ANTINEX_MAX_CONCURRENT_WAITS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": setting("LOG_LEVEL")},
}
