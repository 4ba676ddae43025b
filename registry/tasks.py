"""Celery tasks of the registry: thin adapters over its services."""

from celery import shared_task


@shared_task(bind=True, name="registry.merge_execute")
def merge_task(self, job_id: int) -> str:
    """Merge one adapter into full weights (queue ``gpu``: it starts the engine as a subprocess)."""
    from kernel.status import Status, lease_owner_name
    from registry.merge import merge_execute
    from registry.models import MergeJob

    job = MergeJob.objects.filter(pk=job_id, status=Status.QUEUED).first()
    if job is None:
        return "skip"
    return merge_execute(job=job, owner=lease_owner_name(task_id=self.request.id or "eager")).status
