"""The first run's gateway (``deployment_demo_policy``, called by ``make run`` after ``seed_demo_jobs``):
the demo REPO policy becomes an adapter of the demo deployment and the production version of slot
``demo``; idempotent; a clear error when the job or the deployment is missing."""

import pytest
from django.core.management import CommandError, call_command

from deploy.services.demo import DEMO_SLOT, SERVED_NAME, demo_gateway_ensure
from deploy.services.serving import deployment_create
from kernel.errors import ApplicationError
from registry.models import ModelVersion
from registry.services import version_register
from training_jobs.models import TrainingJob
from training_jobs.services.demo import REPO_JOB

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    base = version_register(name="tiny-default", kind="base", base_model="/m/tiny", method="base")
    policy = version_register(
        name="demo-repo-v1", kind="policy", base_model="/m/tiny", base=base, adapter_path="/a", method="repo"
    )
    return {"base": base, "policy": policy}


def test_the_demo_policy_goes_behind_the_gateway_once(demo):
    with pytest.raises(ApplicationError, match="has not finished"):
        demo_gateway_ensure()
    TrainingJob.objects.create(name=REPO_JOB, method="repo", base_model=demo["base"], output_model=demo["policy"])
    with pytest.raises(ApplicationError, match="No active deployment"):
        demo_gateway_ensure()
    deployment = deployment_create(base=demo["base"], slot=DEMO_SLOT)
    done = demo_gateway_ensure()
    assert done.added and done.deployment.pk == deployment.pk
    assert list(deployment.adapters.values_list("served_name", flat=True)) == [SERVED_NAME]
    policy = ModelVersion.objects.get(pk=demo["policy"].pk)
    assert (policy.stage, policy.slot) == (ModelVersion.Stage.PRODUCTION, DEMO_SLOT)
    again = demo_gateway_ensure()
    assert not again.added and deployment.adapters.count() == 1


def test_the_command_says_what_it_did_or_why_not(demo, capsys):
    with pytest.raises(CommandError, match="has not finished"):
        call_command("deployment_demo_policy")
    TrainingJob.objects.create(name=REPO_JOB, method="repo", base_model=demo["base"], output_model=demo["policy"])
    deployment_create(base=demo["base"], slot=DEMO_SLOT)
    call_command("deployment_demo_policy")
    assert "production in slot 'demo', adapter added" in capsys.readouterr().out
