"""The training preset a job ran with, decided by the worker that claims it ("auto" until then). Jobs
from before have their preset folded into their config already; theirs stays blank (unknown)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("training_jobs", "0006_status_row"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingjob",
            name="preset",
            field=models.CharField(
                default="",
                help_text="tiny or paper: the preset the job ran with; auto until the worker that claims it decides.",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="trainingjob",
            name="preset",
            field=models.CharField(
                default="auto",
                help_text="tiny or paper: the preset the job ran with; auto until the worker that claims it decides.",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="trainingjob",
            name="config",
            field=models.JSONField(
                default=dict,
                help_text="The engine config.json as written (preset auto: the chosen values until a worker claims it).",
            ),
        ),
    ]
