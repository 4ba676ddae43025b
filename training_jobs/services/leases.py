"""Who runs a job: the kernel's claim (``kernel.status.row_claim``) plus the one rule only training jobs
have: a queued job waits while a higher-priority job is queued on the same queue.

A delivery starts a queued job and takes its lease; a delivery that finds the job running does nothing
(the sweep, ``kernel.sweep``, gives a job whose worker stopped beating back to its queue, and the next
claim resumes it from its last checkpoint).
"""

from __future__ import annotations

from django.db import transaction

from kernel.status import Action, Claim, Status, row_claim
from training_jobs.models import TrainingJob


@transaction.atomic
def job_claim(*, job_id: int, owner: str) -> Claim:
    """Decide what this delivery of ``job_id`` does, and take the lease when it runs the job."""
    job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
    if job is not None and job.status == Status.QUEUED and not job.cancel_requested:
        ahead = TrainingJob.objects.filter(status=Status.QUEUED, queue=job.queue, priority__gt=job.priority)
        if ahead.exists():
            return Claim(Action.DEFER, job)
    return row_claim(model=TrainingJob, pk=job_id, owner=owner)
