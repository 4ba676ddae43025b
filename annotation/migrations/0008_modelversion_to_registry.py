"""Re-point the foreign keys to ModelVersion, which moved from deploy to registry on the same table: state
only (the columns and constraints already point at deploy_modelversion)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0007_auditevent_to_kernel'),
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='badcase',
                    name='fixed_in',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='fixed_bad_cases', to='registry.modelversion'),
                ),
                migrations.AlterField(
                    model_name='badcase',
                    name='model_version',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='bad_cases', to='registry.modelversion'),
                ),
                migrations.AlterField(
                    model_name='branchgeneration',
                    name='model_version',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='branch_generations', to='registry.modelversion'),
                ),
                migrations.AlterField(
                    model_name='candidate',
                    name='model_version',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='candidates', to='registry.modelversion'),
                ),
            ],
            database_operations=[],
        ),
    ]
