"""Who runs a job: a heartbeat lease on the job row (issue 6, item 4).

Celery delivers at least once: ``acks_late`` plus ``reject_on_worker_lost`` put a message back when
its worker dies, and Redis redelivers an unacknowledged message after the visibility timeout. So the
same job can be delivered while its first supervisor is still alive. The supervisor writes
``heartbeat_at`` every poll; a delivery that finds a fresh heartbeat under another owner waits (the
task retries later) instead of starting a second copy, and one that finds a stale heartbeat takes
the job over and resumes it from the last checkpoint.
"""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from training_jobs.models import JobStatus, TrainingJob
from training_jobs.services.jobs import job_transition


class Action(enum.StrEnum):
    START = "start"  # first delivery: launch the engine
    RESUME = "resume"  # the previous supervisor died: launch with --resume
    WAIT = "wait"  # another live supervisor holds the lease: look again later
    DEFER = "defer"  # a higher-priority job is queued on this queue: go to the back
    SKIP = "skip"  # finished or cancelled: nothing to do


@dataclass(frozen=True)
class Claim:
    action: Action
    job: TrainingJob | None = None
    previous_host: str = ""
    previous_pid: int | None = None


def lease_owner_name(*, task_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"


@transaction.atomic
def job_claim(*, job_id: int, owner: str) -> Claim:
    """Decide what this delivery of ``job_id`` does, and take the lease when it runs the job."""
    job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.is_terminal:
        return Claim(Action.SKIP, job)
    if job.cancel_requested and job.status != JobStatus.RUNNING:
        return Claim(Action.SKIP, job_transition(job_id=job.pk, to=JobStatus.CANCELLED))
    now = timezone.now()
    if job.status == JobStatus.QUEUED:
        ahead = TrainingJob.objects.filter(status=JobStatus.QUEUED, queue=job.queue, priority__gt=job.priority)
        if ahead.exists():
            return Claim(Action.DEFER, job)
        job = job_transition(
            job_id=job.pk,
            to=JobStatus.RUNNING,
            lease_owner=owner,
            heartbeat_at=now,
            worker_host=socket.gethostname(),
            attempts=job.attempts + 1,
        )
        return Claim(Action.START, job)
    if job.status != JobStatus.RUNNING:
        return Claim(Action.SKIP, job)
    fresh = job.heartbeat_at and now - job.heartbeat_at < timedelta(seconds=settings.PARLEY_LEASE_S)
    if fresh and job.lease_owner != owner:
        return Claim(Action.WAIT, job)
    if job.cancel_requested:
        return Claim(Action.SKIP, job_transition(job_id=job.pk, to=JobStatus.CANCELLED))
    previous_host, previous_pid = job.worker_host, job.pid
    job = job_transition(
        job_id=job.pk,
        to=JobStatus.RUNNING,
        lease_owner=owner,
        heartbeat_at=now,
        worker_host=socket.gethostname(),
        attempts=job.attempts + 1,
        pid=None,
    )
    return Claim(Action.RESUME, job, previous_host, previous_pid)


def lease_beat(*, job_id: int, owner: str, **fields) -> tuple[bool, bool]:
    """Renew the lease (and store ``fields``); returns (still ours, cancel requested)."""
    updated = TrainingJob.objects.filter(pk=job_id, lease_owner=owner, status=JobStatus.RUNNING).update(
        heartbeat_at=timezone.now(), **fields
    )
    if not updated:
        return False, False
    cancel = TrainingJob.objects.filter(pk=job_id).values_list("cancel_requested", flat=True).first()
    return True, bool(cancel)
