"""Branch generations become status rows (kernel.status.StatusRow): the shared status vocabulary
(pending -> queued), a Celery queue (the pairwise queue field becomes ``pairwise_queue``), the
heartbeat lease, and the worker split into host and pid."""

import django.utils.timezone
from django.db import migrations, models


def to_status_row(apps, schema_editor):
    """pending -> queued; "host:pid" -> worker_host, worker_pid; queued at creation; claimed once if started."""
    model = apps.get_model("annotation", "BranchGeneration")
    if schema_editor.connection.vendor == "postgresql":  # no deferred FK checks left pending before the ALTERs
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    model.objects.filter(status="pending").update(status="queued")
    for row in model.objects.all().only("pk", "worker", "created_at", "started_at"):
        host, _, pid = (row.worker or "").rpartition(":")
        model.objects.filter(pk=row.pk).update(
            worker_host=host if pid.isdigit() else row.worker,
            worker_pid=int(pid) if pid.isdigit() else None,
            queued_at=row.created_at,
            attempts=1 if row.started_at else 0,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0008_modelversion_to_registry'),
    ]

    operations = [
        migrations.RenameField(model_name='branchgeneration', old_name='queue', new_name='pairwise_queue'),
        migrations.AddField(
            model_name='branchgeneration',
            name='queue',
            field=models.CharField(default='gpu', help_text='The Celery queue whose workers run it.', max_length=50),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text='Times a worker claimed it.'),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='cancel_requested',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='engine_pid',
            field=models.IntegerField(blank=True, help_text="The engine's process (and process group).", null=True),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='lease_owner',
            field=models.CharField(blank=True, help_text='host:pid:task of the supervisor.', max_length=200),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='queued_at',
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='worker_host',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='branchgeneration',
            name='worker_pid',
            field=models.IntegerField(blank=True, help_text='The supervising worker process.', null=True),
        ),
        migrations.RunPython(to_status_row, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='branchgeneration',
            name='worker',
        ),
        migrations.AlterField(
            model_name='branchgeneration',
            name='metrics',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name='branchgeneration',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], db_index=True, default='queued', max_length=12),
        ),
    ]
