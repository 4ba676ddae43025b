"""The GRPO reward function: which of the REPO sources becomes TRL's reward, per config flag."""

import json
from types import SimpleNamespace

import pytest

from engine.train.grpo import RepoRewardFunction


class FakeSource:
    def score(self, *, prompts, replies, tasks, stages=None):
        assert replies == ["a", "b"] and tasks == [{"t": 1}, {"t": 2}]
        return SimpleNamespace(
            r_model=[2.0, -1.0],
            e_judge=[-10.0, 0.0],
            e_func=[0.0, -30.0],
            r_total=[1.8, -1.3],
            as_metrics=lambda: {"reward/r_total": 0.25, "rules/format": 0.5},
        )


def _call(function):
    logged = {}
    rewards = function(
        prompts=[[{"role": "user", "content": "hi"}]] * 2,
        completions=[[{"role": "assistant", "content": "a"}], [{"role": "assistant", "content": "b"}]],
        task_json=[json.dumps({"t": 1}), json.dumps({"t": 2})],
        log_metric=logged.__setitem__,
    )
    return rewards, logged


@pytest.mark.parametrize(
    ("use_enhanced", "has_rm", "expected"),
    [
        (True, True, [1.8, -1.3]),  # GRPO with the enhanced REPO reward: R_total
        (False, True, [2.0, -1.0]),  # the paper's GRPO: R_model alone
        (True, False, [0.9, 0.7]),  # no RM: the enhanced constant R_model = 1 (training_reward)
        (False, False, [0.9, 0.7]),  # the same: R_model alone would be a constant
    ],
)
def test_the_flag_picks_the_reward(use_enhanced, has_rm, expected):
    rewards, logged = _call(RepoRewardFunction(FakeSource(), use_enhanced=use_enhanced, has_rm=has_rm))
    assert rewards == pytest.approx(expected)
    assert logged == {"reward/r_total": 0.25, "rules/format": 0.5}


def test_it_is_named_for_trl():
    assert RepoRewardFunction(FakeSource(), use_enhanced=True, has_rm=True).__name__ == "repo_reward"


def test_ppo_repo_and_grpo_are_rewarded_by_one_function():
    """The same scored batch gives GRPO and the PPO/REPO loop the same numbers, with and without an RM."""
    import torch

    from engine.rewards.enhancement import training_reward
    from engine.train.ppo_config import PPOConfig, REPOConfig
    from engine.train.ppo_rewards import reply_scores

    scored = FakeSource().score(prompts=None, replies=["a", "b"], tasks=[{"t": 1}, {"t": 2}])
    ended = torch.tensor([True, True])
    for has_rm in (True, False):
        rewards = {"rm_path": "rm-run" if has_rm else None}
        for cls, enhanced in ((REPOConfig, True), (PPOConfig, False)):
            config = cls.preset("tiny", base_model="m", dataset="d.jsonl", rewards=rewards)
            grpo, _ = _call(RepoRewardFunction(FakeSource(), use_enhanced=enhanced, has_rm=has_rm))
            loop = reply_scores(scored, ended, config=config).tolist()
            expected = [
                training_reward(r_model=r if has_rm else None, e_judge=j, e_func=f, use_enhanced=enhanced)
                for r, j, f in zip(scored.r_model, scored.e_judge, scored.e_func, strict=True)
            ]
            assert loop == pytest.approx(expected) and grpo == pytest.approx(expected), (cls, has_rm)
