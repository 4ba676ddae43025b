"""Platform tasks: a worker round-trip check used by the health page of an admin and by the tests."""

from celery import shared_task


@shared_task(name="parley.ping")
def ping(*, token: str) -> None:
    from parley.services import worker_ping_record

    worker_ping_record(token=token)
