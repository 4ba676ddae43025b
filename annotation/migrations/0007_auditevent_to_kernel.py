"""The audit log now belongs to the kernel (kernel 0001 took it over on the same table): drop it from
annotation's state and move its content type, so permissions granted on it follow. No row moves."""

from django.db import migrations

from kernel.model_moves import content_types_move


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0006_choices_from_vocab_and_kind_registry"),
        ("kernel", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEvent")]),
        content_types_move(models=["auditevent"], old="annotation", new="kernel"),
    ]
