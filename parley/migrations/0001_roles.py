"""Create the six roles as groups and give each the model permissions its work needs."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    """Idempotent: also called after later migrations add models (see kernel.apps)."""
    from kernel.permissions_sync import ROLE_PERMISSIONS, sync_role_permissions

    sync_role_permissions(apps, ROLE_PERMISSIONS)


def drop_roles(apps, schema_editor):
    from kernel.permissions_sync import ROLE_PERMISSIONS

    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length"), ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(sync_roles, drop_roles)]
