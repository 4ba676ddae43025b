"""The first run's gateway: the demo REPO policy (``seed_demo_jobs``) becomes an adapter of the demo
deployment (slot ``demo``, started by ``make run``) and the production version of slot ``demo``, so
``model: "demo"`` answers through ``/v1/chat/completions`` on first login. Idempotent."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from deploy.services.serving import adapter_add
from deploy.serving_models import Deployment
from kernel.errors import ApplicationError
from registry.models import ModelVersion
from registry.services import version_promote, version_stage_set
from rewards.models import RewardConfig
from rewards.services.seed import DEMO_JUDGE_CONFIG as JUDGE_CONFIG
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


# -- the demo judge: an adapter of the same demo deployment, named by the demo reward config ----------------
JUDGE_NAME = "demo-judge"  # the registered version and its served name (engine.tinymodel.judge.SERVED_NAME)
ERR_NO_JUDGE = "The demo judge is not built at {path}: run `python -m engine bootstrap --judge --out {path}`."


@dataclass(frozen=True)
class DemoJudge:
    version: ModelVersion
    deployment: Deployment
    config: RewardConfig
    added: bool


def demo_judge_version_ensure(*, path: Path) -> ModelVersion:
    """The demo judge registered as a version of the default base (an adapter that answers chat calls)."""
    from engine.tinymodel.judge import ADAPTER_DIR
    from registry.services import base_model_default_ensure, version_register
    from rewards.services.remote import HITS_ONLY_TAG

    adapter = Path(path) / ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        raise ApplicationError(ERR_NO_JUDGE.format(path=path))
    existing = ModelVersion.objects.filter(name=JUDGE_NAME).first()
    if existing is not None:
        return existing
    base = base_model_default_ensure()
    return version_register(
        name=JUDGE_NAME,
        kind=ModelVersion.Kind.POLICY,
        base_model=base.base_model,
        base=base,
        adapter_path=str(adapter),
        method="judge",
        tags=["judge", HITS_ONLY_TAG],
        description="The demo judge: a LoRA adapter of the tiny base fine-tuned on the demo world's known "
        "verdicts (engine.tinymodel.judge). A real deployment points the judge at a large model.",
        lineage={"base_model": {"id": base.pk, "name": base.name}, "built_by": "engine bootstrap --judge"},
    )


@transaction.atomic
def demo_judge_ensure(*, path: Path, slot: str = DEMO_SLOT) -> DemoJudge:
    """Serve the demo judge as an adapter of the slot's active deployment (the demo policies' vLLM server)
    and name it in the reward config ``JUDGE_CONFIG`` (default rubric and rule set), so the reward
    playground, jobs and evaluation find it through ``rewards.services.remote.judge_endpoint``."""
    from deploy.selectors import live_endpoint
    from rewards.models import RubricVersion, RuleSetVersion
    from rewards.selectors import DEFAULT_NAME
    from rewards.services.seed import reward_defaults_seed

    version = demo_judge_version_ensure(path=path)
    deployment = Deployment.objects.filter(slot=slot, status__in=["queued", "running"]).first()
    if deployment is None:
        raise ApplicationError(f"No active deployment in slot {slot!r}: run deployment_start first.")
    added = not deployment.adapters.filter(version=version).exists()
    if added:
        adapter_add(deployment=deployment, version=version, served_name=JUDGE_NAME)
    reward_defaults_seed()
    config = RewardConfig.objects.filter(name=JUDGE_CONFIG).first()
    if config is None:
        endpoint = live_endpoint(version)
        config = RewardConfig.objects.create(
            name=JUDGE_CONFIG,
            rule_set=RuleSetVersion.objects.filter(name=DEFAULT_NAME).order_by("-version").first(),
            rubric=RubricVersion.objects.filter(name=DEFAULT_NAME).order_by("-version").first(),
            # Where the server was when the config was made; judge_endpoint follows the deployment anyway.
            judge_base_url=endpoint.base_url if endpoint else f"http://{settings.PARLEY_SERVE_HOST}/v1",
            judge_model=JUDGE_NAME,
            n=100.0,
        )
    return DemoJudge(version=version, deployment=deployment, config=config, added=added)
