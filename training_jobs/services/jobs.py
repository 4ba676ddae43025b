"""Training jobs: submission with validation, the one guarded status transition, cancel, priority.

Status: created → queued → running → succeeded / failed / cancelled (STYLE.md #4). Only
``job_transition`` writes ``status``; everything else in the app asks it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kernel.audit import audit_record
from kernel.errors import ApplicationError
from kernel.queue import enqueue
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot, JobStatus, Method, TrainingJob
from training_jobs.services.engine_config import (
    BUDGET_KEYS,
    coerce_hyperparameters,
    default_preset,
    engine_config_build,
)

S = JobStatus
ALLOWED: dict[str, tuple[str, ...]] = {
    S.CREATED: (S.QUEUED, S.CANCELLED),
    S.QUEUED: (S.RUNNING, S.CANCELLED, S.FAILED),
    # running → running: a new delivery took over a job whose supervisor died (stale lease).
    S.RUNNING: (S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED),
}
MAX_PROCESSES = 64

ERR_TRANSITION = "A {status} job cannot become {to}."
ERR_METHOD = "Unknown method {method!r}."
ERR_BASE_MODEL = "The base model must be a registered model version of method 'base'."
ERR_QUEUE = "Unknown queue {queue!r}; GPU workers consume {queues}."
ERR_PROCESSES = f"Processes must be between 1 and {MAX_PROCESSES}."
ERR_NAME = "A job needs a name."
ERR_ALREADY_FINISHED = "This job has already finished ({status})."
ERR_NOT_QUEUED = "Only a queued job can be reprioritised."


class InvalidTransition(ApplicationError):
    pass


def gpu_queues() -> list[str]:
    """The queues GPU workers consume (``gpu`` plus any ``gpu-*`` a deployment adds)."""
    return [q.name for q in settings.CELERY_TASK_QUEUES if q.name == "gpu" or q.name.startswith("gpu-")]


@transaction.atomic
def job_transition(*, job_id: int, to: str, **fields: Any) -> TrainingJob:
    """Move a job to ``to`` (locking the row), stamping the matching timestamp; the only status writer."""
    job = TrainingJob.objects.select_for_update().get(pk=job_id)
    if to not in ALLOWED.get(job.status, ()):
        raise InvalidTransition(ERR_TRANSITION.format(status=job.status, to=to))
    now = timezone.now()
    stamps = {S.QUEUED: "queued_at", S.RUNNING: "started_at"}
    if to in stamps and not (to == S.RUNNING and job.started_at):
        setattr(job, stamps[to], now)
    if to in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        job.finished_at = now
        job.lease_owner = ""
    for key, value in fields.items():
        setattr(job, key, value)
    job.status = to
    job.save()
    return job


def job_create(
    *,
    name: str,
    method: str,
    base_model: ModelVersion,
    snapshots: list[DatasetSnapshot],
    reward_config: RewardConfig | None = None,
    hyperparameters: dict[str, Any] | None = None,
    processes: int = 1,
    queue: str = "gpu",
    priority: int = 0,
    budget_from: TrainingJob | None = None,
    created_by=None,
    preset: str | None = None,
) -> TrainingJob:
    """Validate everything, then create the row and queue it after commit; bad input writes nothing."""
    from training_jobs.tasks import run_training_job  # tasks import services; avoid the cycle

    _check_submission(name=name, method=method, base_model=base_model, processes=processes, queue=queue)
    preset = preset or default_preset()
    hyper = coerce_hyperparameters(method=method, raw=hyperparameters or {}, preset=preset)
    if budget_from is not None:
        hyper.update({k: v for k, v in budget_from.config.items() if k in BUDGET_KEYS})
    config = engine_config_build(
        method=method,
        base_model_path=base_model.base_model,
        snapshots=snapshots,
        reward_config=reward_config,
        hyperparameters=hyper,
        preset=preset,
    )
    with transaction.atomic():
        job = TrainingJob(
            name=name.strip(),
            method=method,
            base_model=base_model,
            reward_config=reward_config,
            config=config,
            processes=processes,
            queue=queue,
            priority=priority,
            budget_from=budget_from,
            created_by=created_by,
        )
        job.full_clean()
        job.save()
        job.snapshots.set(snapshots)
        job = job_transition(job_id=job.pk, to=S.QUEUED)
        audit_record(actor=created_by, action="job.create", instance=job, after={"method": method, "queue": queue})
        enqueue(run_training_job, job.pk, queue=queue)
    return job


def _check_submission(*, name: str, method: str, base_model: ModelVersion, processes: int, queue: str) -> None:
    if not name or not name.strip():
        raise ApplicationError(ERR_NAME)
    if method not in Method.values:
        raise ApplicationError(ERR_METHOD.format(method=method))
    if base_model is None or base_model.method != "base":
        raise ApplicationError(ERR_BASE_MODEL)
    if not 1 <= int(processes) <= MAX_PROCESSES:
        raise ApplicationError(ERR_PROCESSES)
    if queue not in gpu_queues():
        raise ApplicationError(ERR_QUEUE.format(queue=queue, queues=", ".join(gpu_queues())))


def job_cancel(*, job: TrainingJob, actor=None) -> TrainingJob:
    """Queued: cancelled now. Running: flag it; the supervisor signals the process group within a second."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.is_terminal:
            raise ApplicationError(ERR_ALREADY_FINISHED.format(status=locked.status))
        if locked.status == S.RUNNING:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        else:
            locked = job_transition(job_id=locked.pk, to=S.CANCELLED, cancel_requested=True)
        audit_record(actor=actor, action="job.cancel", instance=locked, after={"status": locked.status})
    return locked


def job_reprioritise(*, job: TrainingJob, priority: int, actor=None) -> TrainingJob:
    """Change a queued job's priority: workers start the highest-priority queued job of a queue first."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != S.QUEUED:
            raise ApplicationError(ERR_NOT_QUEUED)
        before = locked.priority
        locked.priority = int(priority)
        locked.save(update_fields=["priority"])
        audit_record(
            actor=actor,
            action="job.reprioritise",
            instance=locked,
            before={"priority": before},
            after={"priority": locked.priority},
        )
    return locked
