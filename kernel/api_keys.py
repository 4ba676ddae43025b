"""API keys: one kind of key for the REST API (``/api/``) and the OpenAI-compatible gateway (``/v1/``).

A key reads ``pk_<8 hex>_<secret>``. Only its SHA-256 hash and the visible prefix (``pk_<8 hex>``) are
stored; the full key is shown once, when it is created (the self-service page or
``manage.py api_key_create``). A key has an owner, a name, an expiry (``API_KEY_DAYS``, 90 by default)
and can be revoked; ``last_used_at`` is written at most once a minute per key, so a busy gateway does not
write a row per request. A key works while it is neither revoked nor expired and its owner is active
and still holds a role that may hold keys (ML engineer or admin).

Django-only (no DRF): the gateway (``deploy/gateway``) and the DRF class (``kernel.security``) both use
:func:`key_user`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.roles import Role, has_role

KEY_PREFIX = "pk_"
API_KEY_DAYS = 90
MAX_KEY_DAYS = 366
LAST_USED_EVERY = timedelta(minutes=1)
KEY_ROLES = (Role.ML_ENGINEER,)  # and admins, who pass every role check

ERR_NAME = "Give the key a name of 1 to 100 characters."
ERR_DAYS = f"A key lives 1 to {MAX_KEY_DAYS} days."
ERR_ROLE = "Only ML engineers and admins hold API keys."
ERR_REVOKED = "This key is already revoked."
ERR_MISSING = "Invalid API key."
ERR_KEY_REVOKED = "This API key has been revoked."
ERR_KEY_EXPIRED = "This API key has expired."
ERR_KEY_OWNER = "The owner of this API key may no longer use it."


class ApiKey(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=20, help_text="The visible start of the key (pk_xxxxxxxx).")
    key_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole key, hex.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "kernel"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its visible prefix."""
    prefix = KEY_PREFIX + secrets.token_hex(4)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def may_hold_keys(user) -> bool:
    return bool(user and user.is_active and has_role(user, KEY_ROLES))


def api_key_create(*, owner, name: str, days: int = API_KEY_DAYS, actor=None) -> tuple[ApiKey, str]:
    """Create a key for ``owner``; returns the row and the key (the only time it exists in clear)."""
    name = (name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        raise ApplicationError(ERR_NAME)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_KEY_DAYS:
        raise ApplicationError(ERR_DAYS)
    if not may_hold_keys(owner):
        raise ApplicationError(ERR_ROLE, status=403)
    key, prefix = new_key()
    row = ApiKey.objects.create(
        name=name, owner=owner, prefix=prefix, key_hash=key_hash(key), expires_at=timezone.now() + timedelta(days=days)
    )
    audit_record(actor=actor or owner, action="create", instance=row, after=audit_snapshot(row, fields=_AUDITED))
    return row, key


def api_key_revoke(*, key: ApiKey, actor) -> ApiKey:
    if key.revoked_at:
        raise ApplicationError(ERR_REVOKED, status=409)
    before = audit_snapshot(key, fields=_AUDITED)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="change", instance=key, before=before, after=audit_snapshot(key, fields=_AUDITED))
    return key


_AUDITED = ["name", "owner", "prefix", "expires_at", "revoked_at"]


class KeyRefused(Exception):
    """A key that does not authenticate; ``message`` says why (shown to the caller)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)


def key_user(key: str):
    """The active owner of ``key`` (and marks the key used); :class:`KeyRefused` when it does not work."""
    if not key or len(key) > 200 or not looks_like_key(key):
        raise KeyRefused(ERR_MISSING)
    row = ApiKey.objects.select_related("owner").filter(key_hash=key_hash(key)).first()
    if row is None:
        raise KeyRefused(ERR_MISSING)
    now = timezone.now()
    if row.revoked_at:
        raise KeyRefused(ERR_KEY_REVOKED)
    if row.expires_at <= now:
        raise KeyRefused(ERR_KEY_EXPIRED)
    if not may_hold_keys(row.owner):
        raise KeyRefused(ERR_KEY_OWNER)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
    row.owner.parley_api_key = row
    return row.owner
