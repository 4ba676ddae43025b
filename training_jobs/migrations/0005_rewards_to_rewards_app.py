"""Reward configuration now belongs to the rewards app (rewards 0001 took its three models over on the
same tables): re-point TrainingJob.reward_config, drop the models from training_jobs' state and move
their content types, so permissions granted on them follow. State only, no row moves."""

import django.db.models.deletion
from django.db import migrations, models

from kernel.model_moves import content_types_move


class Migration(migrations.Migration):

    dependencies = [
        ('rewards', '0001_initial'),
        ('training_jobs', '0004_modelversion_to_registry'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='trainingjob',
                    name='reward_config',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='rewards.rewardconfig'),
                ),
                migrations.RemoveField(
                    model_name='rubricversion',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='rulesetversion',
                    name='created_by',
                ),
                migrations.DeleteModel(
                    name='RewardConfig',
                ),
                migrations.DeleteModel(
                    name='RubricVersion',
                ),
                migrations.DeleteModel(
                    name='RuleSetVersion',
                ),
            ],
            database_operations=[],
        ),
        content_types_move(models=["rulesetversion", "rubricversion", "rewardconfig"], old="training_jobs", new="rewards"),
    ]
