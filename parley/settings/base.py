"""Base settings. Everything comes from the environment with safe local defaults."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from .celery import *  # noqa: F403
from .runs import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PARLEY_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-local-only-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "kernel.admin_apps.ParleyAdminConfig",  # django.contrib.admin, for admins only (kernel/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by the app, not a CDN
    "kernel",
    "parley",
    "registry",
    "annotation",
    "rewards",
    "training_jobs",
    "evaluation",
    "deploy",
    "axes",  # login lockout (kernel/security.py, docs/operations.md); last, as its docs ask
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kernel.refusals.ApplicationErrorMiddleware",  # a service's refusal as a 4xx page or htmx fragment
    "kernel.form_input.PostedNulMiddleware",  # a NUL in a posted page form or a query: 400 naming the field
    "kernel.security.ContentSecurityPolicyMiddleware",  # PARLEY_CSP below
    "axes.middleware.AxesMiddleware",  # a locked-out login gets the lockout page (429)
]

ROOT_URLCONF = "parley.urls"
WSGI_APPLICATION = "parley.wsgi.application"
ASGI_APPLICATION = "parley.asgi.application"

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
                "kernel.roles.roles_context",
                "parley.navigation.nav_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'parley.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's four standard validators: not like the username, at least 10 characters, not a common
# password (such as 12345678), not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login lockout (django-axes): AXES_FAILURE_LIMIT wrong passwords for one username from one address lock
# that pair out for AXES_COOLOFF_TIME; a success resets the count. An admin unlocks early with
# `manage.py axes_reset_username <name>`. The API's tokens get the same limit per address
# (kernel.security.LockoutTokenAuthentication).
AUTHENTICATION_BACKENDS = [
    "kernel.security.LockoutBackend",  # django-axes' AxesStandaloneBackend
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("PARLEY_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("PARLEY_LOGIN_COOLOFF_MIN", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "kernel/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "kernel.security.client_ip"
# Behind a reverse proxy the client's address is the last one the proxy appended to X-Forwarded-For
# (production sets this on); otherwise REMOTE_ADDR.
PARLEY_BEHIND_PROXY = os.environ.get("PARLEY_BEHIND_PROXY", "0") == "1"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end packages installed by `make` (npm) are served by the app itself: no CDN.
STATICFILES_DIRS = [("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist")]
WHITENOISE_USE_FINDERS = True

# Shared directory every worker sees: dataset snapshots, run directories, adapters.
ARTIFACTS_ROOT = Path(os.environ.get("ARTIFACTS_ROOT", VAR_DIR / "artifacts"))
# The base model every job and server starts from unless told otherwise.
PARLEY_BASE_MODEL = os.environ.get("PARLEY_BASE_MODEL", str(VAR_DIR / "models" / "tiny"))
# Deployments (docs/deploy.md): one directory per deployment (the vLLM log), and how servers are reached.
PARLEY_DEPLOY_ROOT = Path(os.environ.get("PARLEY_DEPLOY_ROOT", VAR_DIR / "deployments"))
# The demo judge (a LoRA adapter of the tiny base, `python -m engine bootstrap --judge`); make run serves it.
PARLEY_DEMO_JUDGE_DIR = Path(os.environ.get("PARLEY_DEMO_JUDGE_DIR", VAR_DIR / "models" / "demo-judge"))
PARLEY_SERVE_HOST = os.environ.get("PARLEY_SERVE_HOST", "127.0.0.1")
PARLEY_SERVE_QUEUE = os.environ.get("PARLEY_SERVE_QUEUE", "serve")  # the Celery queue new deployments go to
PARLEY_SERVE_DTYPE = os.environ.get("PARLEY_SERVE_DTYPE", "float32")  # "auto" on a GPU node
# 2048: the demo judge's prompts (rubric, case, dialogue) need it; the tiny base (1024 positions) is served
# with 2048 (PARLEY_SERVE_EXTEND_POSITIONS, engine.serve.ServeOptions.extend_positions).
PARLEY_SERVE_MAX_MODEL_LEN = int(os.environ.get("PARLEY_SERVE_MAX_MODEL_LEN", "2048"))
PARLEY_SERVE_EXTEND_POSITIONS = os.environ.get("PARLEY_SERVE_EXTEND_POSITIONS", "1") == "1"
PARLEY_SERVE_MEMORY_SHARE = float(os.environ.get("PARLEY_SERVE_MEMORY_SHARE", "0.3"))
PARLEY_SERVE_EXTRA = os.environ.get("PARLEY_SERVE_EXTRA", "")  # e.g. "--enable-prefix-caching" on a GPU
PARLEY_SERVE_START_TIMEOUT_S = float(os.environ.get("PARLEY_SERVE_START_TIMEOUT_S", "420"))
PARLEY_SERVE_HEALTH_S = float(os.environ.get("PARLEY_SERVE_HEALTH_S", "3"))  # /health every this many seconds
PARLEY_SERVE_UNHEALTHY_RESTART_S = float(os.environ.get("PARLEY_SERVE_UNHEALTHY_RESTART_S", "60"))
PARLEY_SERVE_BACKOFF_MAX_S = float(os.environ.get("PARLEY_SERVE_BACKOFF_MAX_S", "60"))
PARLEY_PYTHON = os.environ.get("PARLEY_PYTHON", "")  # interpreter for engine subprocesses
PARLEY_DEMO_PASSWORD = os.environ.get("PARLEY_DEMO_PASSWORD", "parley-demo")  # seed_demo's users

# Upload limits: a whole import file may be large, one message may not.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# The Content-Security-Policy of every response (kernel.security): scripts, styles, fonts and images
# from the app itself only; nothing inline (see kernel/security.py for how the pages satisfy it).
PARLEY_CSP = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
PARLEY_CSP_REPORT_ONLY = os.environ.get("PARLEY_CSP_REPORT_ONLY", "0") == "1"

# Shared by the web processes (the API's failed-token counter): Redis when CACHE_URL names one.
_CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL.startswith(("redis://", "rediss://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

PARLEY_API_MAX_BODY_BYTES = int(os.environ.get("PARLEY_API_MAX_BODY_BYTES", str(20 * 1024 * 1024)))  # else 413
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "kernel.security.ApiKeyAuthentication",  # pk_… keys (kernel/api_keys.py), Bearer or Token
        "kernel.security.LockoutTokenAuthentication",  # legacy DRF tokens
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kernel.roles.HasRole"],
    "DEFAULT_PARSER_CLASSES": [  # bounded JSON, NUL/surrogates/controls/bidi refused (kernel/api_input.py)
        "kernel.api_input.CleanJSONParser",
        "kernel.api_input.CleanFormParser",
        "kernel.api_input.CleanMultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "kernel.refusals.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Snapshots, jobs, evaluation and deployments. Token auth for scripts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"SnapshotKindEnum": "parley.api.SNAPSHOT_KIND_CHOICES"},
}

# The gateway's exchanges become production conversations in a Celery task ("task") or in the gateway's
# log thread ("inline": no worker needed, but the intake's work then shares the gateway's process).
PARLEY_GATEWAY_INTAKE = os.environ.get("PARLEY_GATEWAY_INTAKE", "task")
# Seconds a gateway worker trusts a key that worked (a revoked key is refused within this time; 0: check
# the database on every request).
PARLEY_GATEWAY_KEY_CACHE_S = float(os.environ.get("PARLEY_GATEWAY_KEY_CACHE_S", "2"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # httpx logs every request at INFO: one line per gateway call to vLLM is noise, not news
    "loggers": {"httpx": {"level": "WARNING"}},
}
