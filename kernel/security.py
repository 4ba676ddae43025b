"""HTTP security headers the stock middleware lacks: a Content-Security-Policy on every response.

Django 5.2 has no CSP of its own. The policy lives in ``settings.PARLEY_CSP`` (directive → sources;
defined once, in ``parley/settings/base.py``) and is sent on every response that does not already carry
one (an empty policy sends none). Parley's pages satisfy it: scripts and styles come from the app's own
static files (no inline ``<script>``, no ``style=""`` attributes, no CDN), data for charts travels in
``json_script`` blocks (JSON, never executed), and htmx's own inline indicator style is switched off in
``parley/base.html`` (the rule lives in ``parley.css``).
``settings.PARLEY_CSP_REPORT_ONLY`` sends it as ``Content-Security-Policy-Report-Only`` instead, for
trying a stricter policy on a live site first.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


def csp_header_value(policy: dict[str, tuple[str, ...] | list[str]]) -> str:
    """``{"default-src": ("'self'",)}`` → ``"default-src 'self'"``."""
    return "; ".join(f"{name} {' '.join(sources)}".strip() for name, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.value = csp_header_value(settings.PARLEY_CSP)
        report_only = getattr(settings, "PARLEY_CSP_REPORT_ONLY", False)
        self.header = "Content-Security-Policy-Report-Only" if report_only else "Content-Security-Policy"

    def __call__(self, request):
        response = self.get_response(request)
        if self.value and self.header not in response:
            response[self.header] = self.value
        return response


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout for every login over HTTP. ``authenticate()`` called without a request (a
    management command, the test client's ``login``) is no HTTP attempt: nothing to count, so it passes
    on to the next backend instead of raising."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str:
    """The client's address for login lockout: behind the reverse proxy (``PARLEY_BEHIND_PROXY``) the last
    address of ``X-Forwarded-For`` (the one the proxy appended; earlier ones are the client's word), else
    ``REMOTE_ADDR``."""
    if getattr(settings, "PARLEY_BEHIND_PROXY", False):
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")


ERR_API_LOCKED = "Too many requests with a wrong token from this address; try again in {minutes} minutes."


class LockoutTokenAuthentication(TokenAuthentication):
    """DRF token authentication with the login page's limit: ``AXES_FAILURE_LIMIT`` wrong tokens from one
    address lock that address out of token authentication for ``AXES_COOLOFF_TIME`` (429), counted in
    the shared cache. A right token does not reset the count (a guesser may hold one valid token)."""

    def authenticate(self, request):
        return self._guarded(request, lambda: super(LockoutTokenAuthentication, self).authenticate(request))

    def _guarded(self, request, attempt):
        """Run ``attempt`` unless the address is locked out; count its failure."""
        ip = client_ip(request)
        locked = api_locked_message(ip)
        if locked:
            raise _Locked(locked)
        try:
            return attempt()
        except exceptions.AuthenticationFailed:
            api_auth_failed(ip)
            raise


def _failures_key(ip: str) -> str:
    return f"parley:api-auth-failures:{ip}"


def api_locked_message(ip: str) -> str | None:
    """Why ``ip`` may not authenticate now (too many wrong tokens or keys), or None. The gateway uses it too."""
    if cache.get(_failures_key(ip), 0) >= settings.AXES_FAILURE_LIMIT:
        cooloff = int(settings.AXES_COOLOFF_TIME.total_seconds())
        return ERR_API_LOCKED.format(minutes=max(1, cooloff // 60))
    return None


def api_auth_failed(ip: str) -> None:
    """Count one wrong token or key from ``ip`` (for ``AXES_COOLOFF_TIME``)."""
    key, cooloff = _failures_key(ip), int(settings.AXES_COOLOFF_TIME.total_seconds())
    if cache.add(key, 1, timeout=cooloff) is False:
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=cooloff)


class ApiKeyAuthentication(LockoutTokenAuthentication):
    """The API keys of ``kernel.api_keys`` (hashed, expiring, revocable) for ``/api/``: sent as
    ``Authorization: Bearer pk_…`` (what OpenAI clients send) or ``Authorization: Token pk_…``. A header
    that carries no API key (a legacy DRF token) is left to the next class. Wrong, revoked and expired keys
    count towards the same lockout as wrong tokens."""

    def authenticate(self, request):
        from kernel.api_keys import looks_like_key

        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not looks_like_key(value.strip()):
            return None
        return self._guarded(request, lambda: self.authenticate_credentials(value.strip()))

    def authenticate_credentials(self, key):
        from kernel.api_keys import KeyRefused, key_user

        try:
            user = key_user(key)
        except KeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message) from None
        return user, user.parley_api_key

    def authenticate_header(self, request):
        return "Bearer"


class _Locked(exceptions.APIException):
    status_code = 429
    default_code = "locked_out"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The API keys in the OpenAPI schema: a bearer scheme of its own (not DRF's ``tokenAuth``)."""

    target_class = "kernel.security.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key (pk_…) from the API keys page."}
