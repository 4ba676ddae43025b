"""Run one job's engine subprocess on this worker and keep the job row in step with it.

DESIGN.md: torch never runs inside the worker. The supervisor writes ``config.json``, starts
``python -m engine train ...`` (under ``torchrun`` for several processes) in its own process group,
then polls: new metrics, samples and progress go to the database together with the lease heartbeat;
a cancel request signals the whole group; the exit status decides succeeded or failed.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from django.conf import settings

from engine.rundir import CONFIG_FILE, LOG_FILE, RESULT_FILE, RunTail, has_checkpoint, log_tail, result_metrics
from kernel.launcher import engine_start, engine_stop, kill_leftover, signal_group
from training_jobs.models import JobMetric, JobSample, JobStatus, TrainingJob
from training_jobs.services.ingest import job_ingest_result
from training_jobs.services.jobs import job_transition
from training_jobs.services.leases import lease_beat

ERR_EXIT = "The engine exited with status {rc}. Last lines of its log:\n{tail}"
ERR_NO_RESULT = f"The engine exited cleanly but wrote no {RESULT_FILE}. Last lines of its log:\n{{tail}}"


def run_dir_for(job: TrainingJob) -> Path:
    """The job's run directory: kept once set (a takeover resumes in the same place), else named by
    id *and* creation time, so a job id reused after a database reset never lands in an old run."""
    if job.run_dir:
        return Path(job.run_dir)
    stamp = job.created_at.strftime("%Y%m%dT%H%M%S%f")
    return Path(settings.ARTIFACTS_ROOT) / "runs" / f"job-{job.pk:06d}-{stamp}"


def engine_command(*, job: TrainingJob, run_dir: Path, resume: bool) -> list[str]:
    """``engine train`` arguments for ``job`` (the launcher adds the interpreter and torchrun)."""
    args = ["train", job.method, "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)]
    return args + ["--resume"] if resume else args


def sync(*, job: TrainingJob, owner: str, tail: RunTail) -> tuple[bool, bool]:
    """Copy new metrics, samples and progress into the database and renew the lease."""
    metrics = [JobMetric(job=job, step=int(r.get("step", 0)), data=r) for r in tail.metrics.read_new()]
    if metrics:
        JobMetric.objects.bulk_create(
            list({m.step: m for m in metrics}.values()),
            update_conflicts=True,
            unique_fields=["job", "step"],
            update_fields=["data"],
        )
    samples = [
        JobSample(job=job, step=int(r.get("step", 0)), index=int(r.get("index", i)), data=r)
        for i, r in enumerate(tail.samples.read_new())
    ]
    if samples:
        JobSample.objects.bulk_create(
            list({(s.step, s.index): s for s in samples}.values()),
            update_conflicts=True,
            unique_fields=["job", "step", "index"],
            update_fields=["data"],
        )
    return lease_beat(job_id=job.pk, owner=owner, progress=tail.progress())


def job_supervise(*, job: TrainingJob, owner: str, resume: bool, previous: tuple[str, int | None] = ("", None)) -> str:
    """Run the engine for ``job`` (already ``running`` under ``owner``) to the end; returns the status."""
    kill_leftover(host=previous[0], pid=previous[1])
    run_dir = run_dir_for(job)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_FILE).write_text(json.dumps(job.config, indent=2, sort_keys=True) + "\n")
    args = engine_command(job=job, run_dir=run_dir, resume=resume and has_checkpoint(run_dir))
    proc = engine_start(args, log=run_dir / LOG_FILE, processes=job.processes)
    TrainingJob.objects.filter(pk=job.pk, lease_owner=owner).update(pid=proc.pid, run_dir=str(run_dir))
    tail = RunTail(run_dir)
    while True:
        rc = proc.poll()
        ours, cancel = sync(job=job, owner=owner, tail=tail)
        if not ours:  # someone took the job over (our heartbeat went stale): stand down
            engine_stop(proc)
            return "lost"
        if cancel:
            engine_stop(proc)
            sync(job=job, owner=owner, tail=tail)
            return job_transition(job_id=job.pk, to=JobStatus.CANCELLED, error="Cancelled on request.").status
        if rc is not None:
            break
        time.sleep(settings.PARLEY_POLL_S)
    return _finish(job=job, rc=rc, tail=tail, run_dir=run_dir)


def _finish(*, job: TrainingJob, rc: int, tail: RunTail, run_dir: Path) -> str:
    result = tail.result()
    if rc != 0:
        error = ERR_EXIT.format(rc=rc, tail=log_tail(run_dir))
        return job_transition(job_id=job.pk, to=JobStatus.FAILED, error=error).status
    if result is None:
        error = ERR_NO_RESULT.format(tail=log_tail(run_dir))
        return job_transition(job_id=job.pk, to=JobStatus.FAILED, error=error).status
    job.refresh_from_db()
    model = job_ingest_result(job=job, result=result, run_dir=run_dir)
    final = result_metrics(result)
    return job_transition(
        job_id=job.pk,
        to=JobStatus.SUCCEEDED,
        output_model=model,
        final_metrics=final or _last_metrics(job),
        progress={**tail.progress(), "fraction": 1.0, "eta_s": 0},
    ).status


def _last_metrics(job: TrainingJob) -> dict:
    last = JobMetric.objects.filter(job=job).order_by("-step").first()
    return dict(last.data) if last else {}


def job_fail_unexpected(*, job_id: int, error: str) -> None:
    """The supervisor itself broke (not the engine): end the job visibly instead of leaving it running."""
    job = TrainingJob.objects.filter(pk=job_id).first()
    if job and job.status == JobStatus.RUNNING:
        if job.pid:
            signal_group(job.pid, signal.SIGKILL)
        job_transition(job_id=job_id, to=JobStatus.FAILED, error=f"Supervisor error: {error}")
