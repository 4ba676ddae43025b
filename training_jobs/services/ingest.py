"""Turn a finished run into a registered model version with its lineage (docs/training-jobs.md, "Models").

Lineage = the job, its base model, the exact snapshots (by sha256), the reward configuration with the
versions of its rule set, rubric and RM, and the run directory. Idempotent: a redelivered job that
already registered its model gets the same row back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction

from engine.rundir import result_adapter
from registry.models import ModelVersion
from registry.services import version_register
from training_jobs.models import TrainingJob


def job_lineage(*, job: TrainingJob, run_dir: Path) -> dict[str, Any]:
    reward = job.reward_config
    return {
        "job": {"id": job.pk, "name": job.name, "method": job.method},
        "base_model": {"id": job.base_model_id, "name": job.base_model.name, "path": job.base_model.base_model},
        "snapshots": [
            {"id": s.pk, "name": s.name, "kind": s.kind, "sha256": s.sha256, "rows": s.row_count}
            for s in job.snapshots.order_by("pk")
        ],
        "reward_config": None
        if reward is None
        else {
            "id": reward.pk,
            "name": reward.name,
            "n": reward.n,
            "reward_model": {"id": reward.reward_model_id, "name": str(reward.reward_model)}
            if reward.reward_model_id
            else None,
            "rubric": {"id": reward.rubric_id, "name": reward.rubric.name, "version": reward.rubric.version}
            if reward.rubric_id
            else None,
            "rule_set": {"id": reward.rule_set_id, "name": reward.rule_set.name, "version": reward.rule_set.version}
            if reward.rule_set_id
            else None,
            "judge_model": reward.judge_model,
        },
        "budget_from": job.budget_from_id,
        "run_dir": str(run_dir),
    }


@transaction.atomic
def job_ingest_result(*, job: TrainingJob, result: dict[str, Any], run_dir: Path) -> ModelVersion:
    if job.output_model_id:
        return job.output_model
    name = f"{job.method}-job{job.pk}"
    model = ModelVersion.objects.filter(name=name).first()
    if model is not None:
        return model
    return version_register(
        name=name,
        kind=ModelVersion.Kind.REWARD_MODEL if job.method == "rm" else ModelVersion.Kind.POLICY,
        base_model=job.base_model.base_model,
        base=job.base_model if job.base_model.kind == ModelVersion.Kind.BASE else job.base_model.base,
        adapter_path=result_adapter(result, run_dir=run_dir),
        method=job.method,
        description=f"Trained by job {job.pk} ({job.name}).",
        lineage=job_lineage(job=job, run_dir=run_dir),
        actor=job.created_by,
    )
