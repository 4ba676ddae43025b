"""Production: refuses to start without its environment; DEBUG off; HTTPS only behind a reverse proxy.

``parley.wsgi``, ``parley.asgi`` and the Celery app default to this module (``manage.py`` and ``make run``
use ``local``, pytest ``test``). Required: ``DJANGO_SECRET_KEY`` (50 characters or more),
``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``DJANGO_ALLOWED_HOSTS`` (comma-separated host names).
The deployment recipe is ``compose.yaml``; docs/operations.md explains it.
"""

import os

from django.core.exceptions import ImproperlyConfigured

REQUIRED = {
    "DJANGO_SECRET_KEY": "a long random secret (python -c 'import secrets; print(secrets.token_urlsafe(64))')",
    "DATABASE_URL": "the PostgreSQL database, e.g. postgres://parley:…@db:5432/parley",
    "CELERY_BROKER_URL": "the Redis broker, e.g. redis://redis:6379/0",
    "DJANGO_ALLOWED_HOSTS": "the site's host names, comma-separated (the ALLOWED_HOSTS setting)",
}
_missing = [name for name in REQUIRED if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Parley's production settings refuse to start without "
        + "; ".join(f"{name} ({REQUIRED[name]})" for name in _missing)
        + ". Set them in the environment (see docs/operations.md)."
    )
if len(os.environ["DJANGO_SECRET_KEY"]) < 50 or len(set(os.environ["DJANGO_SECRET_KEY"])) < 5:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is too short or too simple: use 50 random characters or more.")

os.environ["DJANGO_DEBUG"] = "0"  # forced off, whatever the environment says
os.environ.setdefault("PARLEY_BEHIND_PROXY", "1")
if os.environ["CELERY_BROKER_URL"].startswith("redis"):
    os.environ.setdefault("CACHE_URL", os.environ["CELERY_BROKER_URL"])

from .base import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in os.environ["DJANGO_ALLOWED_HOSTS"].split(",") if h.strip()]
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the site's hosts (not '*').")

# HTTPS: the reverse proxy terminates TLS and says so in X-Forwarded-Proto (it must overwrite any value
# the client sent); plain HTTP is redirected; browsers are told to use HTTPS only for a year.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # the container health check speaks plain HTTP
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
# Preloading is a promise about the whole domain that is slow to take back: the domain's owner decides.
SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_HSTS_PRELOAD", "0") == "1"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # "SECURE_HSTS_PRELOAD is not True": the owner's call

# Static files: collected at image build (`manage.py collectstatic`), served by whitenoise with hashed,
# compressed names and far-future caching; no finders at run time.
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
