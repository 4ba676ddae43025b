"""Celery tasks of the deploy app: thin adapters over its services."""

from celery import shared_task


@shared_task(name="deploy.gateway_intake", acks_late=True)
def gateway_intake(exchange_ids: list[str]) -> int:
    """Take logged gateway exchanges in as production conversations (idempotent; queue ``default``)."""
    from deploy.gateway.log import intake_exchanges

    return intake_exchanges(exchange_ids)
