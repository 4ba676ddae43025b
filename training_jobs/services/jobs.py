"""Training jobs: submission with validation, cancel, priority.

A job is a status row: queued → running → succeeded / failed / cancelled, and back to queued when the
sweep recovers it from a dead worker. Only ``kernel.status`` writes ``status``, and it guards every move.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from kernel.audit import audit_record
from kernel.errors import ApplicationError
from kernel.status import Status, row_enqueue, row_transition
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot, Method, TrainingJob
from training_jobs.services.engine_config import (
    PRESET_AUTO,
    PRESET_CHOICES,
    budget_copy,
    coerce_hyperparameters,
    engine_config_build,
)

MAX_PROCESSES = 64

ERR_METHOD = "Unknown method {method!r}."
ERR_BASE_MODEL = "The base model must be a registered model version of method 'base'."
ERR_QUEUE = "Unknown queue {queue!r}; GPU workers consume {queues}."
ERR_PROCESSES = f"Processes must be between 1 and {MAX_PROCESSES}."
MAX_NODES = 32
ERR_NODES = f"Nodes must be a whole number between 1 and {MAX_NODES}."
ERR_NAME = "A job needs a name."
ERR_PRESET = "Unknown preset {preset!r}; choose {presets}."
ERR_ALREADY_FINISHED = "This job has already finished ({status})."
ERR_NOT_QUEUED = "Only a queued job can be reprioritised."


def gpu_queues() -> list[str]:
    """The queues GPU workers consume (``gpu`` plus any ``gpu-*`` a deployment adds)."""
    return [q.name for q in settings.CELERY_TASK_QUEUES if q.name == "gpu" or q.name.startswith("gpu-")]


def job_create(
    *,
    name: str,
    method: str,
    base_model: ModelVersion,
    snapshots: list[DatasetSnapshot],
    reward_config: RewardConfig | None = None,
    hyperparameters: dict[str, Any] | None = None,
    processes: int = 1,
    nodes: int = 1,
    queue: str = "gpu",
    priority: int = 0,
    budget_from: TrainingJob | None = None,
    created_by=None,
    preset: str = PRESET_AUTO,
) -> TrainingJob:
    """Validate everything, then create the row and queue it after commit; bad input writes nothing.
    ``preset`` ``auto`` (the default) leaves the preset to the worker that claims the job."""
    _check_submission(name=name, method=method, base_model=base_model, processes=processes, queue=queue)
    if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
        raise ApplicationError(ERR_NODES)
    if preset not in PRESET_CHOICES:
        raise ApplicationError(ERR_PRESET.format(preset=preset, presets=", ".join(PRESET_CHOICES)))
    hyper = coerce_hyperparameters(method=method, raw=hyperparameters or {}, preset=preset)
    if budget_from is not None:
        hyper = budget_copy(
            source_method=budget_from.method, source_config=budget_from.config, method=method, hyper=hyper
        )
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
            preset=preset,
            processes=processes,
            nodes=nodes,
            queue=queue,
            priority=priority,
            budget_from=budget_from,
            created_by=created_by,
        )
        job.full_clean()
        job.save()
        job.snapshots.set(snapshots)
        audit_record(
            actor=created_by,
            action="job.create",
            instance=job,
            after={"method": method, "queue": queue, "nodes": nodes},
        )
        row_enqueue(job)
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
        if locked.status == Status.RUNNING:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
        else:
            locked = row_transition(model=TrainingJob, pk=locked.pk, to=Status.CANCELLED, cancel_requested=True)
        audit_record(actor=actor, action="job.cancel", instance=locked, after={"status": locked.status})
    return locked


def job_reprioritise(*, job: TrainingJob, priority: int, actor=None) -> TrainingJob:
    """Change a queued job's priority: workers start the highest-priority queued job of a queue first."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != Status.QUEUED:
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
