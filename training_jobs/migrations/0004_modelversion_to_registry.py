"""Re-point the foreign keys to ModelVersion, which moved from deploy to registry on the same table: state
only (the columns and constraints already point at deploy_modelversion)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0001_initial'),
        ('training_jobs', '0003_snapshot_kind_export_registry'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='rewardconfig',
                    name='reward_model',
                    field=models.ForeignKey(blank=True, help_text="A model version trained as an RM (method 'rm'); empty = no RM score.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reward_configs', to='registry.modelversion'),
                ),
                migrations.AlterField(
                    model_name='trainingjob',
                    name='base_model',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.modelversion'),
                ),
                migrations.AlterField(
                    model_name='trainingjob',
                    name='output_model',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='produced_by', to='registry.modelversion'),
                ),
            ],
            database_operations=[],
        ),
    ]
