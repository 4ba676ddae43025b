"""Merging an adapter into full weights as a job: request (checked, queued after commit), execute on a
``gpu`` worker (claim, run ``python -m engine merge`` through the launcher with the lease renewed,
register the output), all recorded on the ``MergeJob`` row."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.launcher import engine_run, kill_leftover, log_text_tail
from kernel.status import Action, LeaseLost, Status, lease_owner_name, row_beat, row_claim, row_enqueue, row_finish
from registry.models import MergeJob, ModelVersion
from registry.services import BAD_NAME, loadable_model_missing, version_register

NO_ADAPTER = "Only a version with a LoRA adapter can be merged into full weights."
BAD_REGISTER_AS = "Register the merged model as a base or as a full-weights policy."
NAME_REQUIRED = "Name the merged version."
NOT_QUEUED = "This merge is not queued."
MERGED_DIR = "merged"


def merge_request(
    *, source: ModelVersion, name: str, register_as: str = "base", actor=None, queue: str = "gpu"
) -> MergeJob:
    name = (name or "").strip()
    if not source.adapter_path:
        raise ApplicationError(NO_ADAPTER)
    if register_as not in ("base", "policy"):
        raise ApplicationError(BAD_REGISTER_AS)
    if not name:
        raise ApplicationError(NAME_REQUIRED)
    if ModelVersion.objects.filter(name=name).exists():
        raise ApplicationError(BAD_NAME.format(name=name), status=409)
    with transaction.atomic():
        job = MergeJob.objects.create(source=source, name=name, register_as=register_as, created_by=actor, queue=queue)
        audit_record(actor=actor, action="create", instance=job, after=audit_snapshot(job))
        row_enqueue(job)
    return job


def merge_execute(*, job: MergeJob, owner: str = "") -> MergeJob:
    """Claim the queued merge, run the engine, register the merged directory as a new version."""
    owner = owner or lease_owner_name(task_id="direct")
    run_dir = Path(settings.ARTIFACTS_ROOT) / "merges" / f"merge-{job.pk}"
    claim = row_claim(model=MergeJob, pk=job.pk, owner=owner, run_dir=str(run_dir))
    if claim.action != Action.START:
        raise ApplicationError(NOT_QUEUED, status=409)
    job = claim.row
    kill_leftover(host=claim.previous_host, pid=claim.previous_pid)
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / MERGED_DIR
    source = job.source
    args = ["merge", "--base", source.base_model, "--adapter", source.adapter_path, "--out", str(out), "--force"]
    try:
        engine_run(
            args,
            log=run_dir / "merge.log",
            timeout_s=settings.PARLEY_ENGINE_TIMEOUT_S,
            beat=lambda pid: row_beat(row=job, owner=owner, engine_pid=pid),
        )
        missing = loadable_model_missing(out)
        if missing:
            raise ApplicationError(f"The merge wrote no loadable model: {', '.join(missing)}.")
        base = source.base if source.base_id else None
        version = version_register(
            name=job.name,
            kind=ModelVersion.Kind.BASE if job.register_as == "base" else ModelVersion.Kind.POLICY,
            base_model=str(out),
            base=None if job.register_as == "base" else base,
            method="base" if job.register_as == "base" else source.method,
            description=f"{source.name} merged into full weights by merge job {job.pk}.",
            lineage={
                "merged_from": {
                    "id": source.pk,
                    "name": source.name,
                    "adapter": source.adapter_path,
                    "base_model": source.base_model,
                },
                "merge_job": job.pk,
                **(source.lineage or {}),
            },
            tags=["merged"],
            actor=job.created_by,
        )
    except LeaseLost:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the row for the person who asked
        message = getattr(exc, "message", None) or str(exc)
        return row_finish(
            row=job, owner=owner, to=Status.FAILED, error=message[-2000:] or log_text_tail(run_dir / "merge.log")
        )
    return row_finish(row=job, owner=owner, to=Status.SUCCEEDED, output=version, metrics={"out": str(out)})
