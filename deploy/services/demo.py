"""The first run's gateway: the demo REPO policy (``seed_demo_jobs``) becomes an adapter of the demo
deployment (slot ``demo``, started by ``make run``) and the production version of slot ``demo``, so
``model: "demo"`` answers through ``/v1/chat/completions`` on first login. Idempotent."""

from dataclasses import dataclass

from django.db import transaction

from deploy.services.serving import adapter_add
from deploy.serving_models import Deployment
from kernel.errors import ApplicationError
from registry.models import ModelVersion
from registry.services import version_promote, version_stage_set
from training_jobs.models import TrainingJob
from training_jobs.services.demo import REPO_JOB

DEMO_SLOT = "demo"
SERVED_NAME = "demo-repo"


@dataclass(frozen=True)
class DemoGateway:
    version: ModelVersion
    deployment: Deployment
    added: bool  # the adapter was added now (False: it was there)


@transaction.atomic
def demo_gateway_ensure(*, slot: str = DEMO_SLOT) -> DemoGateway:
    """Add the demo REPO policy to the slot's active deployment and make it the slot's production
    version. ``ApplicationError`` when the demo job has not finished or the slot has no deployment."""
    job = TrainingJob.objects.filter(name=REPO_JOB, output_model__isnull=False).select_related("output_model").first()
    if job is None:
        raise ApplicationError(f"The demo REPO job ({REPO_JOB!r}) has not finished: run seed_demo_jobs first.")
    deployment = Deployment.objects.filter(slot=slot, status__in=["queued", "running"]).first()
    if deployment is None:
        raise ApplicationError(f"No active deployment in slot {slot!r}: run deployment_start first.")
    version = job.output_model
    added = not deployment.adapters.filter(version=version).exists()
    if added:
        adapter_add(deployment=deployment, version=version, served_name=SERVED_NAME)
    if not (version.stage == ModelVersion.Stage.PRODUCTION and version.slot == slot):
        if version.stage == ModelVersion.Stage.CANDIDATE:
            version = version_stage_set(version=version, stage=ModelVersion.Stage.STAGING)
        version = version_promote(version=version, slot=slot, note="the first run's demo policy")
    return DemoGateway(version=version, deployment=deployment, added=added)
