"""Celery tasks of the training_jobs app: thin adapters over the services (STYLE.md #2)."""

from celery import shared_task
from django.conf import settings

from training_jobs.services.leases import Action, job_claim, lease_owner_name
from training_jobs.services.runner import job_fail_unexpected, job_supervise


@shared_task(
    bind=True, name="training_jobs.run_training_job", acks_late=True, reject_on_worker_lost=True, max_retries=None
)
def run_training_job(self, job_id: int) -> str:
    """One delivery of a job on a ``gpu`` queue: claim its lease, then run the engine to the end."""
    owner = lease_owner_name(task_id=self.request.id or "eager")
    claim = job_claim(job_id=job_id, owner=owner)
    if claim.action == Action.WAIT:  # another live worker runs it: look again when its lease could lapse
        raise self.retry(countdown=settings.PARLEY_LEASE_S, queue=claim.job.queue)
    if claim.action == Action.DEFER:  # a higher-priority job is queued: go to the back of the queue
        self.apply_async(args=[job_id], queue=claim.job.queue, countdown=1)
        return Action.DEFER
    if claim.action == Action.SKIP:
        return Action.SKIP
    try:
        return job_supervise(
            job=claim.job,
            owner=owner,
            resume=claim.action == Action.RESUME,
            previous=(claim.previous_host, claim.previous_pid),
        )
    except Exception as exc:
        job_fail_unexpected(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise
