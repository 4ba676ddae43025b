"""The audit log moves here from annotation with its table (``annotation_auditevent``), its index and its
append-only trigger: state only, no row moves (annotation 0006 removes it from annotation's state)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("create", "Create"),
                                    ("change", "Change"),
                                    ("review", "Review"),
                                    ("delete", "Delete"),
                                    ("import", "Import"),
                                    ("export", "Export"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("object_type", models.CharField(max_length=100)),
                        ("object_id", models.CharField(max_length=64)),
                        ("before", models.JSONField(blank=True, null=True)),
                        ("after", models.JSONField(blank=True, null=True)),
                        ("note", models.TextField(blank=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "annotation_auditevent",
                        "ordering": ["-at", "-id"],
                        "indexes": [
                            models.Index(fields=["object_type", "object_id", "at"], name="annotation__object__f90089_idx")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
