"""The real Celery worker consumes from Redis and writes to the test database."""

import time
import uuid

import pytest

from kernel.models import AuditEvent
from parley.tasks import ping

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_round_trip(celery_worker):
    token = uuid.uuid4().hex
    ping.apply_async(kwargs={"token": token})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if AuditEvent.objects.filter(object_type="parley.worker_ping", object_id=token).exists():
            return
        time.sleep(0.2)
    pytest.fail("the worker did not record the ping within 30 s:\n" + celery_worker[1].read_text()[-2000:])
