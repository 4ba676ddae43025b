"""The kernel: the small app every other app imports and that imports none of them.

Roles, the enqueue-after-commit helper, the engine launcher, the status-row base with its lease, the
audit log and the one application error type live here (docs/architecture.md, "Layers").
"""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.apps import apps as global_apps

    from kernel.permissions_sync import ROLE_PERMISSIONS, sync_role_permissions

    sync_role_permissions(global_apps, ROLE_PERMISSIONS)


class KernelConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "kernel"
    verbose_name = "Parley kernel"

    def ready(self) -> None:
        # Every app's post_migrate: permissions of apps listed after us exist only then.
        post_migrate.connect(_sync_roles, dispatch_uid="parley-sync-roles")
