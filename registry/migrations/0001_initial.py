"""ModelVersion moves here from deploy with its table (``deploy_modelversion``): state only, no row
moves. Every foreign key to it is re-pointed in its own app's state, then deploy 0002 drops the old one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelVersion",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=200, unique=True)),
                        ("base_model", models.CharField(help_text="HF checkpoint path of the base model.", max_length=500)),
                        ("adapter_path", models.CharField(blank=True, max_length=500)),
                        ("method", models.CharField(blank=True, help_text="base, sft, dpo, ppo, grpo, repo, rm …", max_length=20)),
                        ("description", models.TextField(blank=True)),
                        (
                            "lineage",
                            models.JSONField(blank=True, default=dict, help_text="job, snapshots, reward config versions."),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "deploy_modelversion", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
    ]
