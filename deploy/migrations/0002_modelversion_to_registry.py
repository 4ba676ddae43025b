"""ModelVersion now belongs to the registry (registry 0001 took it over on the same table, every foreign key
was re-pointed): drop it from deploy's state and move its content type, so permissions granted on it
follow. No row moves."""

from django.db import migrations

from kernel.model_moves import content_types_move


class Migration(migrations.Migration):

    dependencies = [
        ('deploy', '0001_initial'),
        ('registry', '0001_initial'),
        ('annotation', '0008_modelversion_to_registry'),
        ('evaluation', '0002_modelversion_to_registry'),
        ('training_jobs', '0004_modelversion_to_registry'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='ModelVersion',
                ),
            ],
            database_operations=[],
        ),
        content_types_move(models=["modelversion"], old="deploy", new="registry"),
    ]
