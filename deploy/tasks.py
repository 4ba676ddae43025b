"""Celery tasks of the deploy app: thin adapters over its services."""

from celery import shared_task


@shared_task(bind=True, name="deploy.serve_deployment", acks_late=True, reject_on_worker_lost=True)
def serve_deployment(self, deployment_id: int) -> str:
    """Own one deployment's vLLM server on a ``serve`` worker until it is stopped (``deploy.services.supervisor``)."""
    from deploy.services.supervisor import deployment_supervise
    from deploy.serving_models import Deployment
    from kernel.status import Action, LeaseLost, Status, lease_owner_name, row_claim, row_finish

    owner = lease_owner_name(task_id=self.request.id or "eager")
    claim = row_claim(model=Deployment, pk=deployment_id, owner=owner, state=Deployment.State.STARTING)
    if claim.action != Action.START:
        return claim.action
    try:
        return deployment_supervise(
            deployment=claim.row, owner=owner, previous=(claim.previous_host, claim.previous_pid)
        )
    except LeaseLost:
        return "lease lost"
    except Exception as exc:
        row_finish(
            row=claim.row,
            owner=owner,
            to=Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            state=Deployment.State.STOPPED,
        )
        raise


@shared_task(name="deploy.gateway_intake", acks_late=True)
def gateway_intake(exchange_ids: list[str]) -> int:
    """Take logged gateway exchanges in as production conversations (idempotent; queue ``default``)."""
    from deploy.gateway.log import intake_exchanges

    return intake_exchanges(exchange_ids)
