"""Jobs on real Celery workers over Redis, with the fake engine (tests.fixtures.engine) so each test
controls its timing: success with metrics and lineage, cancel, a crashing engine, a worker SIGKILLed
mid-run that the next delivery resumes (per trainer family), and a redelivery that must not start a
second copy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from kombu import Queue

from kernel.status import Status
from tests.fixtures.workers import FAST_REDELIVERY, PRODUCTION_TIMINGS, QUEUE, process_gone, wait_for
from tests.training_jobs import factories
from training_jobs.models import JobMetric, JobSample, TrainingJob
from training_jobs.services.jobs import job_cancel, job_create

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def reliability_queue(settings):
    settings.CELERY_TASK_QUEUES = (*settings.CELERY_TASK_QUEUES, Queue(QUEUE))


def submit(*, method: str = "repo", **overrides) -> TrainingJob:
    rl = method in ("ppo", "grpo", "repo")
    kind = "prompts" if rl else "sft" if method == "sft" else "preference"
    return job_create(
        name=f"fake {method}",
        method=method,
        base_model=factories.base_model(),
        snapshots=[factories.snapshot(kind=kind)],
        reward_config=factories.reward_config() if rl else None,
        queue=QUEUE,
        **overrides,
    )


def job_now(job: TrainingJob) -> TrainingJob:
    return TrainingJob.objects.get(pk=job.pk)


def step_of(job: TrainingJob) -> int:
    return int(job_now(job).progress.get("step") or 0)


def test_job_succeeds_with_metrics_samples_and_lineage(start_worker):
    start_worker(steps=4, step_s=0.1)
    job = submit()
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=60, what="the job to finish")
    assert done.status == Status.SUCCEEDED, done.error
    assert list(JobMetric.objects.filter(job=job).values_list("step", flat=True)) == [1, 2, 3, 4]
    assert JobSample.objects.filter(job=job).count() == 4
    assert done.progress["fraction"] == 1.0 and done.attempts == 1
    assert done.started_at and done.finished_at and done.worker_host and done.engine_pid and done.worker_pid
    model = done.output_model
    assert model.method == "repo" and model.adapter_path == str(Path(done.run_dir) / "adapter")
    assert model.lineage["job"]["id"] == job.pk
    assert model.lineage["snapshots"][0]["sha256"] == job.snapshots.get().sha256
    assert model.lineage["reward_config"]["rule_set"] == {
        "id": job.reward_config.rule_set_id,
        "name": "default",
        "version": 1,
    }


def test_cancel_signals_the_process_group_within_seconds(start_worker):
    start_worker(steps=200, step_s=0.5)
    job = submit()
    wait_for(lambda: step_of(job) >= 1, timeout=60, what="the first step")
    pid = job_now(job).engine_pid
    asked = time.monotonic()
    job_cancel(job=job_now(job))
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=15, what="the cancel")
    assert done.status == Status.CANCELLED
    assert time.monotonic() - asked < 8
    wait_for(lambda: process_gone(pid), timeout=5, what="the engine process to exit")


def test_engine_that_dies_fails_the_job_with_its_last_log_lines(start_worker):
    start_worker(steps=5, step_s=0.1, fail_at=2)
    job = submit()
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=60, what="the failure")
    assert done.status == Status.FAILED
    assert "exited with status 3" in done.error
    assert "CUDA out of memory (scripted)" in done.error
    assert done.output_model is None


# One method per trainer family: TRL's checkpoints/checkpoint-N (SFT, DPO, RM, GRPO) and our loop's
# checkpoints/step-NNNNNN (PPO, REPO). The TRL one restarted at step 0 while the web app guessed the layout.
@pytest.mark.parametrize("method", ["sft", "repo"], ids=["trl-family", "loop-family"])
def test_sigkilled_worker_leaves_the_job_resumable_and_the_sweep_resumes_it(start_worker, method):
    first = start_worker(steps=10, step_s=0.6)
    job = submit(method=method)
    wait_for(lambda: step_of(job) >= 3, timeout=60, what="step 3")
    first.kill()  # SIGKILL the worker's whole process group: no ack, no cleanup
    run_dir = Path(job_now(job).run_dir)
    first_pid = int((run_dir / "starts.log").read_text().split()[0].split("=")[1])
    wait_for(lambda: process_gone(first_pid), timeout=5, what="the orphaned engine to die with its parent")
    assert job_now(job).status == Status.RUNNING  # resumable: nobody marked it failed

    # The next worker's beat sweeps: the lease lapsed, so the job goes back to its queue and is resumed.
    second = start_worker(steps=10, step_s=0.1)
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=90, what="the resumed job")
    assert done.status == Status.SUCCEEDED, done.error + second.text()[-2000:]
    assert "kernel.sweep_leases" in second.text() and not done.error
    starts = (run_dir / "starts.log").read_text().splitlines()
    assert len(starts) == 2 and "resume=True" in starts[1]
    assert int(starts[1].split("from=")[1]) >= 3
    assert done.attempts == 2
    assert list(JobMetric.objects.filter(job=job).values_list("step", flat=True)) == list(range(1, 11))


@pytest.mark.slow  # waits out the production lease (up to PARLEY_LEASE_S + PARLEY_SWEEP_S, 90 s)
def test_sigkilled_worker_recovers_within_the_production_bound(start_worker):
    """The same SIGKILL with every timing the production settings' own (lease 60 s, sweep 30 s, Redis
    visibility 5 min): the sweep gives the row back within the lease + sweep bound of
    parley/settings/runs.py, long before Redis would redeliver the message."""
    from django.conf import settings

    first = start_worker(steps=40, step_s=0.5, timings=PRODUCTION_TIMINGS)
    job = submit(method="sft")
    wait_for(lambda: step_of(job) >= 2, timeout=60, what="step 2")
    first.kill()
    second = start_worker(steps=40, step_s=0.05, timings=PRODUCTION_TIMINGS)
    bound = settings.PARLEY_LEASE_S + settings.PARLEY_SWEEP_S
    # The row is back in its queue (or already resumed) within the bound, plus the workers' start.
    wait_for(lambda: job_now(job).attempts >= 2, timeout=bound + 30, what="the sweep to give the job back")
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=120, what="the resumed job")
    assert done.status == Status.SUCCEEDED, done.error + second.text()[-2000:]
    assert "resume=True" in (Path(done.run_dir) / "starts.log").read_text().splitlines()[1]


def test_redelivered_message_does_not_start_a_second_copy(start_worker):
    first = start_worker(steps=24, step_s=0.75, timings=FAST_REDELIVERY)
    job = submit()
    wait_for(lambda: job_now(job).status == Status.RUNNING, timeout=60, what="the start")
    second = start_worker(steps=24, step_s=0.75, timings=FAST_REDELIVERY)
    # The visibility timeout (3 s) is far shorter than the job: Redis hands the message to `second`, whose
    # claim finds the job running under a live lease and leaves it alone.
    wait_for(lambda: "'busy'" in second.text(), timeout=45, what="the redelivery to reach the second worker")
    done = wait_for(lambda: job_now(job).is_terminal and job_now(job), timeout=60, what="the job to finish")
    assert done.status == Status.SUCCEEDED
    assert len((Path(done.run_dir) / "starts.log").read_text().splitlines()) == 1
    assert done.attempts == 1
    assert os.path.exists(done.output_model.adapter_path)
    assert "training_jobs.run_training_job" in first.text()
