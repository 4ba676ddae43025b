"""Multi-node jobs: one rank group per node on ``nodes`` workers of the job's queue, joined by torchrun's
c10d rendezvous, living and dying as one.

- The delivery that claims the job (``run_training_job``) is node 0: it holds the job's own lease, picks
  a port, publishes ``host:port`` in the job's ``rendezvous`` field, creates one :class:`JobNode` row per
  node for this attempt and sends ``run_training_node`` for nodes 1..N-1 to the job's queue
  (:func:`group_open`). Its torchrun hosts the rendezvous store.
- Each other node's delivery claims its row (:func:`node_claim`: only a queued row of the job's current
  attempt, while the job runs), joins the rendezvous and renews its row's lease every poll
  (:func:`node_beat`); it stops its rank group as soon as the job is no longer running this attempt
  (cancelled, failed, given back to the queue) or its lease is gone.
- Node 0 watches its peers every poll (:func:`group_fault`). A peer that failed or stopped beating ends
  the attempt on every node: node 0 stops its own ranks and gives the whole job back to its queue, or
  fails it once its attempts are used up (:func:`group_restart`); the next claim opens a new attempt
  with a new rendezvous id, and every node resumes from the last checkpoint. No node ever runs on
  alone: the ranks of a lost node's peers fail in their next collective, and the rows end them anyway.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kernel.launcher import Rendezvous, free_port, node_address
from kernel.queue import enqueue_named
from kernel.status import Status, row_enqueue, row_finish, row_transition
from training_jobs.models import JobNode, TrainingJob

NODE_TASK = "training_jobs.run_training_node"

NOTE_NODE_LOST = "Node {index} ({host}) stopped responding; the whole group restarts from its last checkpoint."
NOTE_RESTART = "{reason} Queued again, attempt {next} of {limit}."
ERR_GAVE_UP = "{reason} Parley gave up after {attempts} attempts."
ERR_NODE_FAILED = "Node {index} ({host}) exited with status {rc}. Last lines of its log:\n{tail}"
ERR_NODE_NEVER_JOINED = "Node {index} never started: no free worker on queue {queue} took it in time."
ERR_GROUP_STOPPED = "Its group stopped (the job was cancelled, failed or restarted)."


def rendezvous_for(job: TrainingJob, *, node: int) -> Rendezvous:
    """Node ``node``'s view of the job's current rendezvous (an attempt has its own id)."""
    return Rendezvous(
        endpoint=job.rendezvous,
        run_id=f"parley-job-{job.pk}-attempt-{job.attempts}",
        nodes=job.nodes,
        node=node,
        join_timeout_s=settings.PARLEY_NODE_JOIN_S,
    )


@transaction.atomic
def group_open(*, job: TrainingJob, owner: str) -> TrainingJob:
    """Node 0, holding the job's lease: publish the rendezvous, create this attempt's node rows (node 0
    running under ``owner``) and send the other nodes' tasks once this commits."""
    now = timezone.now()
    endpoint = f"{node_address()}:{free_port()}"
    TrainingJob.objects.filter(pk=job.pk, lease_owner=owner).update(rendezvous=endpoint, run_dir=job.run_dir)
    job.rendezvous = endpoint
    JobNode.objects.filter(job=job).delete()  # an earlier attempt's rows: that group is over
    JobNode.objects.bulk_create(
        [
            JobNode(
                job=job,
                index=i,
                attempt=job.attempts,
                **(
                    {
                        "status": Status.RUNNING,
                        "lease_owner": owner,
                        "heartbeat_at": now,
                        "started_at": now,
                        "worker_host": socket.gethostname(),
                        "worker_pid": os.getpid(),
                    }
                    if i == 0
                    else {}
                ),
            )
            for i in range(job.nodes)
        ]
    )
    for i in range(1, job.nodes):
        enqueue_named(NODE_TASK, job.pk, i, job.attempts, queue=job.queue)
    return job


@dataclass(frozen=True)
class NodeClaim:
    node: JobNode | None
    job: TrainingJob | None
    why: str = ""


@transaction.atomic
def node_claim(*, job_id: int, index: int, attempt: int, owner: str) -> NodeClaim:
    """A delivery of node ``index``: take its row's lease when the job runs this attempt and the row is
    still queued (a duplicate or stale delivery does nothing)."""
    job = TrainingJob.objects.filter(pk=job_id).first()
    node = JobNode.objects.select_for_update().filter(job_id=job_id, index=index, attempt=attempt).first()
    if job is None or node is None:
        return NodeClaim(None, job, "gone")
    if job.status != Status.RUNNING or job.attempts != attempt or job.cancel_requested:
        return NodeClaim(None, job, "stale")
    if node.status != Status.QUEUED:
        return NodeClaim(None, job, "busy")
    now = timezone.now()
    node.status, node.lease_owner, node.heartbeat_at, node.started_at = Status.RUNNING, owner, now, now
    node.worker_host, node.worker_pid = socket.gethostname(), os.getpid()
    node.save()
    return NodeClaim(node, job)


def node_beat(*, node: JobNode, owner: str, **fields) -> bool:
    """Renew the node's lease; returns whether its rank group must stop (the job no longer runs this
    attempt, a cancel was asked for, or the row is no longer ours)."""
    held = JobNode.objects.filter(pk=node.pk, lease_owner=owner, status=Status.RUNNING, attempt=node.attempt)
    if not held.update(heartbeat_at=timezone.now(), **fields):
        return True
    running = TrainingJob.objects.filter(
        pk=node.job_id, status=Status.RUNNING, attempts=node.attempt, cancel_requested=False
    )
    return not running.exists()


def node_finish(*, node: JobNode, owner: str, to: str, exit_code: int | None = None, error: str = "") -> None:
    """The node's outcome (its row only; the job's is node 0's to record)."""
    JobNode.objects.filter(pk=node.pk, lease_owner=owner, status=Status.RUNNING).update(
        status=to, exit_code=exit_code, error=error, finished_at=timezone.now(), lease_owner=""
    )


def _lapsed(node: JobNode, now) -> bool:
    return node.heartbeat_at is None or node.heartbeat_at < now - timedelta(seconds=settings.PARLEY_LEASE_S)


@dataclass(frozen=True)
class Fault:
    lost: bool  # a node stopped beating (worker gone): restart the group; else a node failed on its own
    reason: str


def group_fault(*, job: TrainingJob, settled: bool = False) -> Fault | None:
    """What ended (or must end) this attempt among nodes 1..N-1, if anything: a node that stopped
    beating (lost), or one whose engine failed. With ``settled`` (node 0's own engine has exited with
    an error), a node still queued counts too: it never joined."""
    from engine.rundir import log_tail

    now = timezone.now()
    peers = JobNode.objects.filter(job=job, attempt=job.attempts, index__gt=0).order_by("index")
    for node in peers:
        if node.status == Status.RUNNING and _lapsed(node, now):
            return Fault(True, NOTE_NODE_LOST.format(index=node.index, host=node.worker_host or "an unknown host"))
    for node in peers:
        if node.status == Status.FAILED:
            tail = log_tail(job.run_dir, node=node.index) if job.run_dir else ""
            error = ERR_NODE_FAILED.format(index=node.index, host=node.worker_host, rc=node.exit_code, tail=tail)
            return Fault(False, error)
        if settled and node.status == Status.QUEUED:
            return Fault(False, ERR_NODE_NEVER_JOINED.format(index=node.index, queue=job.queue))
    return None


def peers_settled(*, job: TrainingJob) -> bool:
    """Every other node of this attempt has ended, lapsed or never started (node 0 may decide)."""
    now = timezone.now()
    peers = JobNode.objects.filter(job=job, attempt=job.attempts, index__gt=0)
    return all(n.status != Status.RUNNING or _lapsed(n, now) for n in peers)


@transaction.atomic
def group_restart(*, job: TrainingJob, owner: str, reason: str) -> str:
    """Node 0 ends this attempt on every node: the job goes back to its queue (the next claim resumes
    every node from the last checkpoint), or fails once its attempts are used up. Returns the status."""
    locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
    JobNode.objects.filter(job=job, attempt=job.attempts, index=0).update(
        status=Status.FAILED, finished_at=timezone.now(), lease_owner="", error=reason
    )
    if locked.attempts >= locked.attempt_limit:
        error = ERR_GAVE_UP.format(reason=reason, attempts=locked.attempts)
        return row_finish(row=job, owner=owner, to=Status.FAILED, error=error).status
    if locked.status != Status.RUNNING or locked.lease_owner != owner:
        return row_finish(row=job, owner=owner, to=Status.FAILED, error=reason).status  # raises LeaseLost
    note = NOTE_RESTART.format(reason=reason, next=locked.attempts + 1, limit=locked.attempt_limit)
    row_enqueue(row_transition(model=TrainingJob, pk=job.pk, to=Status.QUEUED, error=note))
    return Status.QUEUED


def node0_finish(*, job: TrainingJob, to: str, exit_code: int | None, error: str = "") -> None:
    """Node 0's own row, once the job's outcome is decided."""
    JobNode.objects.filter(job=job, attempt=job.attempts, index=0).update(
        status=to, exit_code=exit_code, error=error, finished_at=timezone.now(), lease_owner=""
    )


def node0_beat(*, job: TrainingJob) -> None:
    JobNode.objects.filter(job=job, attempt=job.attempts, index=0).update(heartbeat_at=timezone.now())
