"""Reward configuration moves here from training_jobs with its tables (training_jobs_rulesetversion,
training_jobs_rubricversion, training_jobs_rewardconfig) and constraints: state only, no row moves
(training_jobs 0004 re-points TrainingJob.reward_config and drops the old models from its state)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('registry', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='RubricVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(max_length=100)),
                        ('version', models.PositiveIntegerField()),
                        ('document', models.JSONField()),
                        ('note', models.TextField(blank=True, help_text='What changed in this version and why.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'training_jobs_rubricversion',
                        'ordering': ['name', '-version'],
                        'abstract': False,
                    },
                ),
                migrations.CreateModel(
                    name='RuleSetVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.SlugField(max_length=100)),
                        ('version', models.PositiveIntegerField()),
                        ('document', models.JSONField()),
                        ('note', models.TextField(blank=True, help_text='What changed in this version and why.')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'training_jobs_rulesetversion',
                        'ordering': ['name', '-version'],
                        'abstract': False,
                    },
                ),
                migrations.CreateModel(
                    name='RewardConfig',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('judge_base_url', models.CharField(blank=True, help_text='OpenAI-compatible endpoint (…/v1).', max_length=500)),
                        ('judge_model', models.CharField(blank=True, max_length=200)),
                        ('n', models.FloatField(default=100.0, help_text='Clip bound and scale of the enhancement (paper: 100).')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('reward_model', models.ForeignKey(blank=True, help_text="A model version trained as an RM (method 'rm'); empty = no RM score.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reward_configs', to='registry.modelversion')),
                        ('rubric', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='rewards.rubricversion')),
                        ('rule_set', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to='rewards.rulesetversion')),
                    ],
                    options={
                        'db_table': 'training_jobs_rewardconfig',
                    },
                ),
                migrations.AddConstraint(
                    model_name='rubricversion',
                    constraint=models.UniqueConstraint(fields=('name', 'version'), name='rubric_unique_version'),
                ),
                migrations.AddConstraint(
                    model_name='rubricversion',
                    constraint=models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='rubric_version_positive'),
                ),
                migrations.AddConstraint(
                    model_name='rulesetversion',
                    constraint=models.UniqueConstraint(fields=('name', 'version'), name='ruleset_unique_version'),
                ),
                migrations.AddConstraint(
                    model_name='rulesetversion',
                    constraint=models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='ruleset_version_positive'),
                ),
                migrations.AddConstraint(
                    model_name='rewardconfig',
                    constraint=models.CheckConstraint(condition=models.Q(('n__gt', 0)), name='rewardconfig_n_positive'),
                ),
            ],
            database_operations=[],
        ),
    ]
