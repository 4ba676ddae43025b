"""REST API with token auth: create a snapshot and a job, read status and metrics, cancel; 400s."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from kernel.status import Status
from tests.fixtures.services import token_client
from tests.training_jobs import factories
from training_jobs.models import JobMetric, TrainingJob
from training_jobs.services import jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "row_enqueue", lambda row: None)


def test_create_job_read_status_metrics_and_cancel(api):
    payload = factories.job_payload(hyperparameters={"max_steps": 2})
    created = api.post("/api/jobs/jobs/", payload, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "queued" and created.json()["config"]["max_steps"] == 2
    JobMetric.objects.create(job_id=pk, step=1, data={"loss": 0.4})
    assert api.get(f"/api/jobs/jobs/{pk}/").json()["status"] == "queued"
    assert api.get(f"/api/jobs/jobs/{pk}/metrics/").json()["series"] == {"loss": [0.4]}
    assert api.get("/api/jobs/jobs/").json()["count"] == 1
    assert api.post(f"/api/jobs/jobs/{pk}/cancel/").json()["status"] == Status.CANCELLED
    again = api.post(f"/api/jobs/jobs/{pk}/cancel/")
    assert again.status_code == 400 and "already finished" in str(again.json())


def test_bad_job_is_a_400_and_writes_nothing(api):
    payload = {
        "name": "x",
        "method": "sft",
        "base_model": factories.base_model().pk,
        "snapshots": [factories.snapshot().pk],
    }
    response = api.post("/api/jobs/jobs/", payload, format="json")
    assert response.status_code == 400 and "A sft job trains on sft snapshots" in str(response.json())
    assert api.post("/api/jobs/jobs/", {"name": "x"}, format="json").status_code == 400
    assert not TrainingJob.objects.exists()


def test_snapshot_endpoint_refuses_an_empty_export(api):
    response = api.post("/api/jobs/snapshots/", {"name": "empty", "kind": "sft"}, format="json")
    assert response.status_code == 400 and "matched no rows" in str(response.json())
    snap = factories.snapshot()
    assert api.get(f"/api/jobs/snapshots/{snap.pk}/").json()["sha256"] == snap.sha256


def test_token_of_another_role_is_refused_and_schema_lists_the_endpoints(api, role_users):
    other = token_client(role_users["evaluator"])
    assert other.get("/api/jobs/jobs/").status_code == 403
    assert APIClient().get("/api/jobs/jobs/").status_code in (401, 403)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/jobs/jobs/" in schema["paths"] and "post" in schema["paths"]["/api/jobs/snapshots/"]
