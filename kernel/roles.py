"""Roles are Django groups (created by ``parley/migrations/0001_roles.py``).

Every page and API endpoint declares the roles it admits; ``tests/parley/test_url_roles.py`` walks the
URL conf and fails for any view that declares none (only login, logout and health are public).

- function views: ``@role_required(Role.ML_ENGINEER, ...)``
- class-based views: ``RoleRequiredMixin`` with ``required_roles = (...)``
- DRF views: ``required_roles = (...)`` on the view; ``HasRole`` is the default permission class.
Superusers and members of ``admin`` pass every check.
"""

from collections.abc import Callable, Iterable
from functools import wraps

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from rest_framework.permissions import BasePermission


class Role(models.TextChoices):
    LANGUAGE_EXPERT = "language_expert", "Language expert"
    BD_EXPERT = "bd_expert", "BD expert"
    REVIEWER = "reviewer", "Reviewer"
    ML_ENGINEER = "ml_engineer", "ML engineer"
    EVALUATOR = "evaluator", "Evaluator"
    ADMIN = "admin", "Admin"


ANNOTATORS = (Role.LANGUAGE_EXPERT, Role.BD_EXPERT)
EVERYONE = tuple(Role)
PUBLIC = "public"  # marker for the few views anyone may open


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_parley_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(Role.ADMIN)
        user._parley_roles = cached
    return cached


def has_role(user, roles: Iterable[str]) -> bool:
    mine = user_roles(user)
    return Role.ADMIN in mine or bool(mine & set(roles))


def role_required(*roles: str) -> Callable:
    """Login plus one of ``roles`` (admin always passes); 403 for a logged-in user without it."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        wrapped.parley_roles = tuple(roles)
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as deliberately public (login, health)."""
    view.parley_roles = PUBLIC
    return view


class RoleRequiredMixin(LoginRequiredMixin):
    required_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_role(request.user, self.required_roles):
            raise PermissionDenied("Your role does not give access to this page.")
        return super().dispatch(request, *args, **kwargs)


class HasRole(BasePermission):
    """DRF: authenticated and holding one of the view's ``required_roles`` (none declared = denied)."""

    message = "Your role does not give access to this endpoint."

    def has_permission(self, request, view) -> bool:
        roles = getattr(view, "required_roles", None)
        if roles == PUBLIC:
            return True
        return bool(request.user and request.user.is_authenticated and roles and has_role(request.user, roles))


def roles_context(request) -> dict:
    roles = user_roles(request.user)
    return {"user_roles": roles, "is_role": {r.value: (r.value in roles or Role.ADMIN in roles) for r in Role}}
