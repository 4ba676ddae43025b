"""The reward playground reaches a served reward model through the hook deploy installs (rewards sits
below deploy): a served score is used as it is, no engine subprocess; a failing server falls back to the
subprocess. The real pooling server is tests/deploy/test_reward_serving_vllm.py; here the served scorer
is a named fake (a function returning a number) and the subprocess a stub, to test the choice alone."""

import pytest

from deploy.services.reward_scoring import NO_JUDGE, NO_RM, reply_reward, served_rm_score
from engine.rewards.enhancement import training_reward
from engine.rewards.rules.defaults import EXAMPLE_TASKS
from engine.rundir import RM_META_FILE
from registry.services import version_register
from rewards.models import RewardConfig
from rewards.services import remote

pytestmark = pytest.mark.django_db


@pytest.fixture
def rm(tmp_path):
    (tmp_path / "adapter").mkdir()
    (tmp_path / RM_META_FILE).write_text('{"offset": 0.0, "max_length": 64}')
    return version_register(
        name="rm-h", kind="reward_model", base_model="/m/tiny", adapter_path=str(tmp_path / "adapter"), method="rm"
    )


def test_deploy_installs_its_scorer_into_the_reward_playground():
    assert remote._served_rm_scorer is served_rm_score


def test_a_served_score_is_used_without_the_engine(rm, monkeypatch):
    calls = []
    monkeypatch.setattr(remote, "_served_rm_scorer", lambda version, *, prompt, reply: calls.append(version) or 0.25)
    monkeypatch.setattr(remote, "_run_engine_score", lambda **kw: pytest.fail("the subprocess must not run"))
    config = RewardConfig.objects.create(name="c", reward_model=rm)
    result = remote.rm_score(config=config, reply="hi", task=EXAMPLE_TASKS["en"], history=[])
    assert (result.available, result.score, result.note, calls) == (True, 0.25, remote.RM_SERVED, [rm])


def test_a_failing_or_absent_server_falls_back_to_the_engine(rm, monkeypatch):
    monkeypatch.setattr(remote, "_run_engine_score", lambda **kw: 0.5)
    config = RewardConfig.objects.create(name="c", reward_model=rm)

    def broken(version, *, prompt, reply):
        raise ConnectionError("refused")

    for scorer in (broken, lambda version, *, prompt, reply: None):
        monkeypatch.setattr(remote, "_served_rm_scorer", scorer)
        result = remote.rm_score(config=config, reply="hi", task=EXAMPLE_TASKS["en"], history=[])
        assert (result.available, result.score) == (True, 0.5)
    assert served_rm_score(rm, prompt=[], reply="hi") is None  # nothing deployed


def test_without_a_served_rm_a_chat_reply_gets_r_total_with_r_model_one():
    reward = reply_reward(case=EXAMPLE_TASKS["en"], history=[], reply="hi", e_func=-15.0)
    assert (reward.rm_score, reward.rm_note, reward.judge_note) == (None, NO_RM, NO_JUDGE)
    assert reward.r_total == training_reward(r_model=None, e_judge=0.0, e_func=-15.0, n=100.0) == 0.85
