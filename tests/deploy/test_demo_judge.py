"""The demo judge in the first run (``deployment_demo_judge``, called by ``make run`` after
``deployment_start``): an adapter of the demo deployment, named by the ``demo: judge + rules`` reward
config, and found where its deployment answers now by the one lookup every page and job uses
(``rewards.services.remote.judge_endpoint``)."""

import pytest
from django.core.management import CommandError, call_command

from deploy.services.demo import DEMO_SLOT, JUDGE_CONFIG, JUDGE_NAME, demo_judge_ensure
from deploy.services.serving import deployment_create
from deploy.serving_models import Deployment, DeploymentAdapter
from kernel.errors import ApplicationError
from kernel.status import Status
from registry.models import ModelVersion
from registry.services import version_register
from rewards.services.remote import HITS_ONLY_TAG, JUDGE_NOT_CONFIGURED, judge_endpoint, judge_score
from training_jobs.services.engine_config import reward_sources

pytestmark = pytest.mark.django_db


@pytest.fixture
def judge_dir(tmp_path, settings):
    version_register(name="tiny-default", kind="base", base_model=settings.PARLEY_BASE_MODEL, method="base")
    adapter = tmp_path / "demo-judge" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")  # the service checks the adapter is there, not its weights
    return tmp_path / "demo-judge"


def _healthy(deployment: Deployment, port: int) -> None:
    Deployment.objects.filter(pk=deployment.pk).update(status=Status.RUNNING, state=Deployment.State.HEALTHY, port=port)
    DeploymentAdapter.objects.filter(deployment=deployment).update(state=DeploymentAdapter.State.LOADED)


def test_the_demo_judge_joins_the_demo_deployment_and_the_reward_config_follows_it(judge_dir):
    with pytest.raises(ApplicationError, match="No active deployment"):
        demo_judge_ensure(path=judge_dir)
    deployment = deployment_create(base=ModelVersion.objects.get(name="tiny-default"), slot=DEMO_SLOT)
    done = demo_judge_ensure(path=judge_dir)
    assert done.added and done.version.name == JUDGE_NAME and HITS_ONLY_TAG in done.version.tags
    assert list(deployment.adapters.values_list("served_name", flat=True)) == [JUDGE_NAME]
    config = done.config
    assert config.name == JUDGE_CONFIG and config.judge_model == JUDGE_NAME
    assert config.rubric is not None and config.rule_set is not None
    # not served yet: the URL stored in the config, hits-only verdicts
    endpoint = judge_endpoint(config)
    assert endpoint.model == JUDGE_NAME and endpoint.evidence_chars == 0
    # served: wherever the deployment is now (a restart picks a new port)
    _healthy(deployment, 43121)
    endpoint = judge_endpoint(config)
    assert endpoint.base_url.endswith(":43121/v1") and endpoint.model == JUDGE_NAME
    judge = reward_sources(config)["judge"]  # what a REPO job launched from the dashboard gets
    assert judge["base_url"] == endpoint.base_url and judge["model"] == JUDGE_NAME
    assert judge["evidence_chars"] == 0 and judge["rubric"] == config.rubric.document
    again = demo_judge_ensure(path=judge_dir)
    assert not again.added and again.config.pk == config.pk and deployment.adapters.count() == 1


def test_a_config_without_a_judge_says_so(judge_dir):
    from rewards.models import RewardConfig

    config = RewardConfig.objects.create(name="rules only", n=100.0)
    assert judge_endpoint(config) is None and reward_sources(config)["judge"] is None
    result = judge_score(config=config, reply="Hi", task={}, history=[])
    assert not result.available and result.note == JUDGE_NOT_CONFIGURED


def test_the_command_says_what_it_did_or_why_not(judge_dir, capsys):
    with pytest.raises(CommandError, match="not built"):
        call_command("deployment_demo_judge", "--path", str(judge_dir.parent / "missing"))
    with pytest.raises(CommandError, match="No active deployment"):
        call_command("deployment_demo_judge", "--path", str(judge_dir))
    deployment_create(base=ModelVersion.objects.get(name="tiny-default"), slot=DEMO_SLOT)
    call_command("deployment_demo_judge", "--path", str(judge_dir))
    assert "not loaded yet" in capsys.readouterr().out
