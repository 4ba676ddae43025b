"""Re-point the foreign key to ModelVersion, which moved from deploy to registry on the same table: state
only (the column and its constraint already point at deploy_modelversion)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('evaluation', '0001_initial'),
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='evalsystem',
                    name='model_version',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='eval_systems', to='registry.modelversion'),
                ),
            ],
            database_operations=[],
        ),
    ]
