"""End to end with the real engine on the tiny model and the shared real Celery worker:
freeze snapshots from the demo world, launch jobs through the dashboard's service, watch them reach
``succeeded``, and find metrics in the database and a registered model version with full lineage.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kernel.status import Status
from registry.services import base_model_register
from rewards.models import RewardConfig
from training_jobs.models import JobMetric, TrainingJob
from training_jobs.services.jobs import job_create
from training_jobs.services.snapshots import snapshot_create

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
TINY = {"max_steps": "2", "save_every": "1"}


@pytest.fixture
def world(tiny_model, role_users):
    from annotation.services.demo import demo_world_seed

    demo_world_seed(scale=8, seed=0, password="e2e-demo-password")
    base = base_model_register(name="tiny-e2e", path=str(tiny_model))
    return base, role_users["ml_engineer"]


def wait_done(job: TrainingJob, *, timeout: float) -> TrainingJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(1)
    raise AssertionError(f"job {job.pk} still {job.status} after {timeout}s: {job.progress}")


def check_succeeded(job: TrainingJob, *, method: str) -> None:
    assert job.status == Status.SUCCEEDED, job.error
    assert JobMetric.objects.filter(job=job).exists()
    assert job.progress.get("fraction") == 1.0
    model = job.output_model
    assert model.method == method and Path(model.adapter_path).exists()
    lineage = model.lineage
    assert lineage["job"]["id"] == job.pk and lineage["base_model"]["id"] == job.base_model_id
    assert {s["sha256"] for s in lineage["snapshots"]} == set(job.snapshots.values_list("sha256", flat=True))


def test_rm_then_repo_on_the_real_engine(world, celery_worker):
    base, user = world
    prefs = snapshot_create(name="e2e prefs", kind="preference", created_by=user)
    prompts = snapshot_create(name="e2e prompts", kind="prompts", created_by=user)
    rm_job = job_create(
        name="e2e rm", method="rm", base_model=base, snapshots=[prefs], hyperparameters=TINY, created_by=user
    )
    rm_job = wait_done(rm_job, timeout=240)
    check_succeeded(rm_job, method="rm")
    # Submitted with preset "auto": the worker (a CPU box) decided, and wrote the complete config.
    assert rm_job.preset == "tiny" and rm_job.config["lora_r"] == 8

    reward = RewardConfig.objects.create(name="e2e rm + rules", reward_model=rm_job.output_model, n=100.0)
    repo = job_create(
        name="e2e repo",
        method="repo",
        base_model=base,
        snapshots=[prompts],
        reward_config=reward,
        hyperparameters={**TINY, "per_device_batch_size": "2"},
        budget_from=rm_job,
        created_by=user,
    )
    repo = wait_done(repo, timeout=300)
    check_succeeded(repo, method="repo")
    lineage = repo.output_model.lineage
    assert lineage["reward_config"]["reward_model"]["id"] == rm_job.output_model_id
    assert repo.config["rewards"]["rm_path"] == rm_job.run_dir
