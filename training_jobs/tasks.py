"""Celery tasks of the training_jobs app: thin adapters over the services (docs/architecture.md, "Services")."""

from celery import shared_task

from kernel.status import Action, Status, lease_owner_name
from training_jobs.services.leases import job_claim
from training_jobs.services.nodes import node_claim, node_finish
from training_jobs.services.runner import job_fail_unexpected, job_supervise, node_supervise


@shared_task(bind=True, name="training_jobs.run_training_job", acks_late=True, reject_on_worker_lost=True)
def run_training_job(self, job_id: int) -> str:
    """One delivery of a job on a ``gpu`` queue: claim its lease, then run the engine to the end."""
    owner = lease_owner_name(task_id=self.request.id or "eager")
    claim = job_claim(job_id=job_id, owner=owner)
    if claim.action == Action.DEFER:  # a higher-priority job is queued: go to the back of the queue
        self.apply_async(args=[job_id], queue=claim.row.queue, countdown=1)
    if claim.action != Action.START:
        return claim.action
    try:
        return job_supervise(job=claim.row, owner=owner, previous=(claim.previous_host, claim.previous_pid))
    except Exception as exc:
        job_fail_unexpected(job_id=job_id, owner=owner, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(bind=True, name="training_jobs.run_training_node", acks_late=True, reject_on_worker_lost=True)
def run_training_node(self, job_id: int, index: int, attempt: int) -> str:
    """One node (> 0) of a multi-node job's attempt: claim the node's row, then run its rank group."""
    owner = lease_owner_name(task_id=self.request.id or "eager")
    claim = node_claim(job_id=job_id, index=index, attempt=attempt, owner=owner)
    if claim.node is None:
        return claim.why
    try:
        return node_supervise(node=claim.node, job=claim.job, owner=owner)
    except Exception as exc:
        node_finish(node=claim.node, owner=owner, to=Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
