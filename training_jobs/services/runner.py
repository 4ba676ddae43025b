"""Run one job's engine subprocess on this worker and keep the job row in step with it.

Torch never runs inside the worker (ADR 0003). The supervisor writes ``config.json``, starts
``python -m engine train ...`` through the launcher (``kernel.launcher``: its own process group, under
``torchrun`` for several processes), then polls: new metrics, samples and progress go to the database
together with the lease heartbeat (``kernel.status.row_beat``); a cancel request signals the whole
group; the exit status decides succeeded or failed.

A job of several ``nodes`` runs one rank group per node (``training_jobs.services.nodes``): this worker
is node 0 (it hosts the rendezvous and keeps the job's lease) and :func:`node_supervise` runs on the
others; a lost or failed node ends the attempt on every node.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from django.conf import settings

from engine.rundir import (
    CONFIG_FILE,
    LOG_FILE,
    RESULT_FILE,
    RunTail,
    has_checkpoint,
    log_tail,
    node_log_file,
    result_metrics,
)
from kernel.launcher import ALL_NODES, engine_start, engine_stop, kill_leftover, kill_run_tree, signal_group
from kernel.status import LeaseLost, Status, row_beat, row_finish
from training_jobs.models import JobMetric, JobNode, JobSample, TrainingJob
from training_jobs.services import nodes as group
from training_jobs.services.engine_config import PRESET_AUTO, engine_config_resolve, preset_for_this_worker
from training_jobs.services.ingest import job_ingest_result

ERR_EXIT = "The engine exited with status {rc}. Last lines of its log:\n{tail}"
ERR_CANCELLED = "Cancelled on request."
ERR_SUPERVISOR = "Supervisor error: {error}"
ERR_NO_RESULT = f"The engine exited cleanly but wrote no {RESULT_FILE}. Last lines of its log:\n{{tail}}"


def run_dir_for(job: TrainingJob) -> Path:
    """The job's run directory: kept once set (a takeover resumes in the same place), else named by
    id *and* creation time, so a job id reused after a database reset never lands in an old run."""
    if job.run_dir:
        return Path(job.run_dir)
    stamp = job.created_at.strftime("%Y%m%dT%H%M%S%f")
    return Path(settings.ARTIFACTS_ROOT) / "runs" / f"job-{job.pk:06d}-{stamp}"


def job_preset_resolve(*, job: TrainingJob, owner: str) -> TrainingJob:
    """A job submitted with preset ``auto`` gets this worker's preset and its complete config, stored on
    the row before anything runs (a resumed attempt finds them there and keeps them)."""
    if job.preset != PRESET_AUTO:
        return job
    job.preset = preset_for_this_worker()
    job.config = engine_config_resolve(method=job.method, config=job.config, preset=job.preset)
    TrainingJob.objects.filter(pk=job.pk, lease_owner=owner).update(preset=job.preset, config=job.config)
    return job


def engine_command(*, job: TrainingJob, run_dir: Path, resume: bool) -> list[str]:
    """``engine train`` arguments for ``job`` (the launcher adds the interpreter and torchrun)."""
    args = ["train", job.method, "--config", str(run_dir / CONFIG_FILE), "--run-dir", str(run_dir)]
    return args + ["--resume"] if resume else args


def sync(*, job: TrainingJob, owner: str, tail: RunTail) -> bool:
    """Copy new metrics, samples and progress into the database and renew the lease; returns whether a
    cancel was requested (raises LeaseLost when the job is no longer ours)."""
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
    return row_beat(row=job, owner=owner, progress=tail.progress())


def job_supervise(*, job: TrainingJob, owner: str, previous: tuple[str, int | None] = ("", None)) -> str:
    """Run the engine for ``job`` (already ``running`` under ``owner``) to the end; returns the status.
    A job that left a checkpoint in its run directory (an earlier attempt died) resumes from it. With
    several nodes this worker is node 0: it opens the group, and the group's fate is the job's."""
    run_dir = run_dir_for(job)
    multi = job.nodes > 1
    # Every rank of an earlier attempt on this host dies before resuming (every node's, for a group).
    kill_leftover(host=previous[0], pid=previous[1], run_dir=run_dir, node=ALL_NODES if multi else 0)
    run_dir.mkdir(parents=True, exist_ok=True)
    job = job_preset_resolve(job=job, owner=owner)
    (run_dir / CONFIG_FILE).write_text(json.dumps(job.config, indent=2, sort_keys=True) + "\n")
    args = engine_command(job=job, run_dir=run_dir, resume=has_checkpoint(run_dir))
    rendezvous = None
    if multi:
        job.run_dir = str(run_dir)
        job = group.group_open(job=job, owner=owner)
        rendezvous = group.rendezvous_for(job, node=0)
    proc = engine_start(args, log=run_dir / LOG_FILE, processes=job.processes, rendezvous=rendezvous)
    TrainingJob.objects.filter(pk=job.pk, lease_owner=owner).update(engine_pid=proc.pid, run_dir=str(run_dir))
    if multi:
        JobNode.objects.filter(job=job, attempt=job.attempts, index=0).update(engine_pid=proc.pid)
    tail = RunTail(run_dir)
    try:
        while True:
            rc = proc.poll()
            if sync(job=job, owner=owner, tail=tail):
                engine_stop(proc)
                sync(job=job, owner=owner, tail=tail)
                if multi:
                    group.node0_finish(job=job, to=Status.CANCELLED, exit_code=None, error=ERR_CANCELLED)
                return row_finish(row=job, owner=owner, to=Status.CANCELLED, error=ERR_CANCELLED).status
            if multi:
                group.node0_beat(job=job)
                fault = group.group_fault(job=job)
                if fault is not None:  # a peer failed or was lost: the attempt ends on every node
                    engine_stop(proc)
                    return _group_end(job=job, owner=owner, fault=fault, rc=None, tail=tail, run_dir=run_dir)
            if rc is not None:
                break
            time.sleep(settings.PARLEY_POLL_S)
        if multi and rc != 0:  # our ranks failed: was it a lost peer (restart) or the run itself (fail)?
            fault = _await_peers(job=job, owner=owner, tail=tail)
            return _group_end(job=job, owner=owner, fault=fault, rc=rc, tail=tail, run_dir=run_dir)
        if multi:
            # Our ranks are done: the other nodes' ranks exit with them. Let their workers record that
            # before the job ends, or a node that polls after the end takes the job's end for a stop
            # and records "cancelled" for ranks that succeeded.
            _await_peers(job=job, owner=owner, tail=tail)
    except LeaseLost:  # the sweep gave the job to another worker (our heartbeat lapsed): stand down
        engine_stop(proc)
        return "lost"
    status = _finish(job=job, owner=owner, rc=rc, tail=tail, run_dir=run_dir)
    if multi:
        group.node0_finish(job=job, to=status, exit_code=rc)
    return status


def _await_peers(*, job: TrainingJob, owner: str, tail: RunTail) -> group.Fault | None:
    """Node 0's ranks exited: keep the job's lease while the other nodes end or lapse (a killed node's
    lease lapses within ``PARLEY_LEASE_S``), then say what happened to them."""
    deadline = time.monotonic() + settings.PARLEY_LEASE_S + 3 * settings.PARLEY_POLL_S
    while not group.peers_settled(job=job) and time.monotonic() < deadline:
        sync(job=job, owner=owner, tail=tail)
        time.sleep(settings.PARLEY_POLL_S)
    return group.group_fault(job=job, settled=True)


def _group_end(
    *, job: TrainingJob, owner: str, fault: group.Fault | None, rc: int | None, tail: RunTail, run_dir: Path
) -> str:
    """End a group's attempt: a lost node restarts the whole group from its checkpoint; any other
    failure fails the job (node 0's own error first, then the peer's)."""
    sync(job=job, owner=owner, tail=tail)
    if fault is not None and fault.lost:
        return group.group_restart(job=job, owner=owner, reason=fault.reason)
    error = ERR_EXIT.format(rc=rc, tail=log_tail(run_dir)) if rc else ""
    error = "\n\n".join(e for e in (error, fault.reason if fault else "") if e) or ERR_EXIT.format(rc=rc, tail="")
    group.node0_finish(job=job, to=Status.FAILED, exit_code=rc, error=error)
    return row_finish(row=job, owner=owner, to=Status.FAILED, error=error).status


def node_supervise(*, node: JobNode, job: TrainingJob, owner: str) -> str:
    """Run node ``node.index`` (> 0) of a multi-node job: join the rendezvous node 0 published, renew the
    node's lease while the ranks run, and stop them as soon as the group's attempt is over."""
    run_dir = Path(job.run_dir)
    kill_run_tree(run_dir, node=node.index)  # this node's ranks of an earlier attempt, on this host
    args = engine_command(job=job, run_dir=run_dir, resume=has_checkpoint(run_dir))
    rendezvous = group.rendezvous_for(job, node=node.index)
    proc = engine_start(args, log=run_dir / node_log_file(node.index), processes=job.processes, rendezvous=rendezvous)
    JobNode.objects.filter(pk=node.pk, lease_owner=owner).update(engine_pid=proc.pid)
    while True:
        rc = proc.poll()
        if group.node_beat(node=node, owner=owner):
            engine_stop(proc)
            group.node_finish(node=node, owner=owner, to=Status.CANCELLED, error=group.ERR_GROUP_STOPPED)
            return Status.CANCELLED
        if rc is not None:
            break
        time.sleep(settings.PARLEY_POLL_S)
    to = Status.SUCCEEDED if rc == 0 else Status.FAILED
    group.node_finish(node=node, owner=owner, to=to, exit_code=rc)
    return to


def _finish(*, job: TrainingJob, owner: str, rc: int, tail: RunTail, run_dir: Path) -> str:
    result = tail.result()
    if rc != 0:
        error = ERR_EXIT.format(rc=rc, tail=log_tail(run_dir))
        return row_finish(row=job, owner=owner, to=Status.FAILED, error=error).status
    if result is None:
        error = ERR_NO_RESULT.format(tail=log_tail(run_dir))
        return row_finish(row=job, owner=owner, to=Status.FAILED, error=error).status
    job.refresh_from_db()
    model = job_ingest_result(job=job, result=result, run_dir=run_dir)
    return row_finish(
        row=job,
        owner=owner,
        to=Status.SUCCEEDED,
        output_model=model,
        metrics=result_metrics(result) or _last_metrics(job),
        progress={**tail.progress(), "fraction": 1.0, "eta_s": 0},
    ).status


def _last_metrics(job: TrainingJob) -> dict:
    last = JobMetric.objects.filter(job=job).order_by("-step").first()
    return dict(last.data) if last else {}


def job_fail_unexpected(*, job_id: int, owner: str, error: str) -> None:
    """The supervisor itself broke (not the engine): end the job visibly instead of leaving it running."""
    job = TrainingJob.objects.filter(pk=job_id, status=Status.RUNNING, lease_owner=owner).first()
    if job is None:
        return
    if job.engine_pid:
        signal_group(job.engine_pid, signal.SIGKILL)
    row_finish(row=job, owner=owner, to=Status.FAILED, error=ERR_SUPERVISOR.format(error=error))
