"""Run one job's engine subprocess on this worker and keep the job row in step with it.

DESIGN.md: torch never runs inside the worker. The supervisor writes ``config.json``, starts
``python -m engine train ...`` (under ``torchrun`` for several processes) in its own process group,
then polls: new metrics, samples and progress go to the database together with the lease heartbeat;
a cancel request signals the whole group; the exit status decides succeeded or failed.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from engine.rundir import CONFIG_FILE, LOG_FILE, RunTail, has_checkpoint, log_tail, result_metrics
from training_jobs.models import JobMetric, JobSample, JobStatus, TrainingJob
from training_jobs.services.ingest import job_ingest_result
from training_jobs.services.jobs import job_transition
from training_jobs.services.leases import lease_beat, poll_seconds

TERM_GRACE_S = 5.0  # SIGTERM first (the engine may clean up), SIGKILL after this
ERR_EXIT = "The engine exited with status {rc}. Last lines of its log:\n{tail}"
ERR_NO_RESULT = "The engine exited cleanly but wrote no result.json. Last lines of its log:\n{tail}"
_PR_SET_PDEATHSIG = 1


def run_dir_for(job: TrainingJob) -> Path:
    """The job's run directory: kept once set (a takeover resumes in the same place), else named by
    id *and* creation time, so a job id reused after a database reset never lands in an old run."""
    if job.run_dir:
        return Path(job.run_dir)
    stamp = job.created_at.strftime("%Y%m%dT%H%M%S%f")
    return Path(settings.ARTIFACTS_ROOT) / "runs" / f"job-{job.pk:06d}-{stamp}"


def engine_command(*, job: TrainingJob, run_dir: Path, resume: bool) -> list[str]:
    python = settings.PARLEY_PYTHON or sys.executable
    module = os.environ.get("PARLEY_ENGINE_MODULE", "engine")  # tests swap in a scripted stand-in
    args = ["-m", module, "train", job.method, "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)]
    if resume:
        args.append("--resume")
    if job.processes > 1:
        return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={job.processes}", *args]
    return [python, *args]


def _die_with_parent() -> None:
    """In the child: if the worker process dies (SIGKILL, OOM), the kernel kills the engine too, so a
    dead worker never leaves an engine writing into a run directory someone else will resume."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def launch(cmd: list[str], *, run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")
    with (run_dir / LOG_FILE).open("ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_group(proc: subprocess.Popen) -> int:
    """SIGTERM the whole process group (torchrun and its ranks), SIGKILL whatever is left after a grace."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        return proc.wait()


def kill_leftover(*, host: str, pid: int | None) -> None:
    """A previous supervisor on this host died: make sure its engine group is gone before resuming."""
    import socket

    if pid and host == socket.gethostname():
        signal_group(pid, signal.SIGKILL)


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
    cmd = engine_command(job=job, run_dir=run_dir, resume=resume and has_checkpoint(run_dir))
    proc = launch(cmd, run_dir=run_dir)
    TrainingJob.objects.filter(pk=job.pk, lease_owner=owner).update(pid=proc.pid, run_dir=str(run_dir))
    tail = RunTail(run_dir)
    while True:
        rc = proc.poll()
        ours, cancel = sync(job=job, owner=owner, tail=tail)
        if not ours:  # someone took the job over (our heartbeat went stale): stand down
            stop_group(proc)
            return "lost"
        if cancel:
            stop_group(proc)
            sync(job=job, owner=owner, tail=tail)
            return job_transition(job_id=job.pk, to=JobStatus.CANCELLED, error="Cancelled on request.").status
        if rc is not None:
            break
        time.sleep(poll_seconds())
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
