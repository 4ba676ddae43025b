"""Training jobs become status rows (kernel.status.StatusRow): one status vocabulary without the
draft "created" state (a job is queued in the transaction that creates it, so no committed row is
"created"; any that exists is cancelled), pid -> engine_pid, final_metrics -> metrics, and the
supervising worker's pid. The JobMetric reverse name moves aside for the row's ``metrics``."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def drafts_cancelled(apps, schema_editor):
    job = apps.get_model("training_jobs", "TrainingJob")
    if schema_editor.connection.vendor == "postgresql":  # no deferred FK checks left pending before the ALTERs
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    job.objects.filter(status="created").update(status="cancelled", error="Never queued.")


class Migration(migrations.Migration):

    dependencies = [
        ('deploy', '0001_initial'),
        ('training_jobs', '0005_rewards_to_rewards_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='trainingjob',
            name='job_status_valid',
        ),
        migrations.RunPython(drafts_cancelled, migrations.RunPython.noop),
        migrations.RenameField(model_name='trainingjob', old_name='pid', new_name='engine_pid'),
        migrations.AlterField(
            model_name='trainingjob',
            name='engine_pid',
            field=models.IntegerField(blank=True, help_text="The engine's process (and process group).", null=True),
        ),
        migrations.RenameField(model_name='trainingjob', old_name='final_metrics', new_name='metrics'),
        migrations.AddField(
            model_name='trainingjob',
            name='worker_pid',
            field=models.IntegerField(blank=True, help_text='The supervising worker process.', null=True),
        ),
        migrations.AlterField(
            model_name='jobmetric',
            name='job',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metric_lines', to='training_jobs.trainingjob'),
        ),
        migrations.AlterField(
            model_name='trainingjob',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='Times a worker claimed it.'),
        ),
        migrations.AlterField(
            model_name='trainingjob',
            name='queue',
            field=models.CharField(default='gpu', help_text='The Celery queue whose workers run it.', max_length=50),
        ),
        migrations.AlterField(
            model_name='trainingjob',
            name='queued_at',
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AlterField(
            model_name='trainingjob',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='queued', max_length=12),
        ),
        migrations.AddConstraint(
            model_name='trainingjob',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'succeeded', 'failed', 'cancelled'])), name='job_status_valid'),
        ),
    ]
