"""The Django admin, reachable only by the people it is for (docs/operations.md, "The admin").

Staff status alone is not enough: a user reaches the admin when they are a superuser, or staff holding a
role that sees every answer anyway (admin, ML engineer, reviewer). Annotators and evaluators never reach
it, even if someone ticks "staff status" for them: its change lists show answers, pairs, bad cases and
judgments that blind annotation and blind evaluation hide from them.
"""

from django.contrib import admin

from kernel.roles import Role, has_role

ADMIN_ROLES = (Role.ADMIN, Role.ML_ENGINEER, Role.REVIEWER)


def may_use_admin(user) -> bool:
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or has_role(user, ADMIN_ROLES)


class ParleyAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        return may_use_admin(request.user)
