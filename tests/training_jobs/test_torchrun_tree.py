"""A real two-rank ``torchrun`` engine run (gloo on CPU, the tiny model) under a real Celery worker: the
worker is SIGKILLed mid-run, and the takeover by the next worker kills every process of the old run
(torchrun and both ranks, whatever their session) before it starts the resumed engine; no process of the
old run is left writing the run directory (docs/operations.md, "A job's whole process tree dies with it").
The fake-torchrun tests (tests/kernel/test_process_tree.py) cover the cases; this one the real thing."""

from __future__ import annotations

import os
import time

import pytest
from kombu import Queue

from kernel.launcher import run_processes
from kernel.status import Status
from registry.services import base_model_register
from tests.fixtures.workers import FAST_LEASE, QUEUE, Worker, process_gone, wait_for
from tests.training_jobs import factories
from training_jobs.models import TrainingJob
from training_jobs.services.jobs import job_cancel, job_create
from training_jobs.services.runner import run_dir_for

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def reliability_queue(settings):
    settings.CELERY_TASK_QUEUES = (*settings.CELERY_TASK_QUEUES, Queue(QUEUE))


def children(pid: int) -> set[int]:
    try:
        text = open(f"/proc/{pid}/task/{pid}/children").read()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def test_a_real_torchrun_run_dies_whole_before_the_takeover_resumes_it(
    tiny_model, celery_worker_env, tmp_path, settings
):
    settings.ARTIFACTS_ROOT = tmp_path / "artifacts"  # this process and the workers agree on the run dir
    env = {
        **celery_worker_env,
        "ARTIFACTS_ROOT": str(settings.ARTIFACTS_ROOT),
        "PARLEY_SWEEP_QUEUE": QUEUE,
        "OMP_NUM_THREADS": "1",
        **FAST_LEASE,
    }
    env.pop("PARLEY_PYTHON", None)  # the real engine: python -m torch.distributed.run ... -m engine train
    job = job_create(
        name="torchrun tree",
        method="repo",
        base_model=base_model_register(name="tiny-torchrun", path=str(tiny_model)),
        snapshots=[factories.snapshot(kind="prompts", rows=8)],
        reward_config=factories.reward_config(),
        hyperparameters={"max_steps": "500", "per_device_batch_size": "2"},
        processes=2,
        queue=QUEUE,
    )
    run_dir = run_dir_for(job)
    workers = [Worker(env, tmp_path / "worker-0.log")]
    try:
        torchrun = wait_for(lambda: TrainingJob.objects.get(pk=job.pk).engine_pid, timeout=120, what="torchrun")
        ranks = wait_for(lambda: len(children(torchrun)) >= 2 and children(torchrun), timeout=120, what="2 ranks")
        old = {torchrun, *ranks}
        assert old <= set(run_processes(run_dir)), "torchrun and both ranks carry the run's mark"
        time.sleep(2)  # the ranks are up (importing torch, loading the model, training)

        workers[0].kill()  # SIGKILL the supervisor's whole process group: no cleanup of any kind
        time.sleep(1)
        survivors = {pid for pid in old if not process_gone(pid)}
        print(f"after the SIGKILL: torchrun {torchrun}, ranks {sorted(ranks)}, still alive {sorted(survivors)}")
        assert survivors & ranks, "the ranks outlive their supervisor (their own session): the takeover must act"

        # The next worker: its beat sweeps the lapsed lease, it claims the job and takes it over.
        workers.append(Worker(env, tmp_path / "worker-1.log"))
        resumed = wait_for(lambda: set(run_processes(run_dir)) - old, timeout=120, what="the resumed engine")
        alive_then = {pid for pid in old if not process_gone(pid)}
        assert not alive_then, f"old processes {sorted(alive_then)} alive when the resumed engine {resumed} started"
        row = TrainingJob.objects.get(pk=job.pk)
        assert row.attempts == 2 and row.engine_pid not in old

        job_cancel(job=row)  # and the resumed tree dies whole on cancel too
        done = wait_for(lambda: (j := TrainingJob.objects.get(pk=job.pk)).is_terminal and j, timeout=60, what="cancel")
        assert done.status == Status.CANCELLED
        wait_for(lambda: not run_processes(run_dir), timeout=30, what="no process of the run left")
        sizes = {p: p.stat().st_size for p in run_dir.rglob("*") if p.is_file()}
        time.sleep(2)
        assert sizes == {p: p.stat().st_size for p in run_dir.rglob("*") if p.is_file()}, "nobody writes the run dir"
    finally:
        for worker in workers:
            worker.kill()
        for pid in run_processes(run_dir):
            os.kill(pid, 9)
