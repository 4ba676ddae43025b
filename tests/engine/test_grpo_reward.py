"""The GRPO reward function: which of the REPO sources becomes TRL's reward, per config flag."""

import json
from types import SimpleNamespace

import pytest

from engine.train.grpo import RepoRewardFunction


class FakeSource:
    def score(self, *, prompts, replies, tasks):
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
        (True, False, [-10.0, -30.0]),  # no RM: the auxiliary points (R_total would be 0)
    ],
)
def test_the_flag_picks_the_reward(use_enhanced, has_rm, expected):
    rewards, logged = _call(RepoRewardFunction(FakeSource(), use_enhanced=use_enhanced, has_rm=has_rm))
    assert rewards == expected
    assert logged == {"reward/r_total": 0.25, "rules/format": 0.5}


def test_it_is_named_for_trl():
    assert RepoRewardFunction(FakeSource(), use_enhanced=True, has_rm=True).__name__ == "repo_reward"
