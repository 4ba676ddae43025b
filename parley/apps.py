from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from django.apps import apps as global_apps

    from parley.permissions_sync import ROLE_PERMISSIONS, sync_role_permissions

    sync_role_permissions(global_apps, ROLE_PERMISSIONS)


class ParleyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "parley"
    verbose_name = "Parley platform"

    def ready(self) -> None:
        # Every app's post_migrate: permissions of apps listed after us exist only then.
        post_migrate.connect(_sync_roles, dispatch_uid="parley-sync-roles")
