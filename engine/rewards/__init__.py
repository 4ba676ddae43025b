"""Heterogeneous rewards (docs/method.md): the reward model (RM), the LLM reward judge (RJ), the rule
functions (RF) and the REPO enhancement that combines them; ``RepoReward`` is the one callable the
trainers use.

Names are imported on first use: the web app reads the rules and the rubric without loading torch,
transformers or the HTTP client.

>>> from engine.rewards import enhanced_reward
>>> enhanced_reward(1.0, -20.0, -30.0)
0.5
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "enhanced_reward": "engine.rewards.enhancement",
    "enhanced_reward_batch": "engine.rewards.enhancement",
    "training_reward": "engine.rewards.enhancement",
    "NO_RM_R_MODEL": "engine.rewards.enhancement",
    "DEFAULT_N": "engine.rewards.enhancement",
    "rules": "engine.rewards.rules",
    "check": "engine.rewards.rules",
    "score": "engine.rewards.rules",
    "Violation": "engine.rewards.rules",
    "RuleSet": "engine.rewards.rules",
    "RuleSpec": "engine.rewards.rules",
    "RuleSetError": "engine.rewards.rules",
    "ExampleFailure": "engine.rewards.rules",
    "RULE_IDS": "engine.rewards.rules",
    "default_rule_set": "engine.rewards.rules",
    "compile_rules": "engine.rewards.rules",
    "Rubric": "engine.rewards.rubric",
    "RubricRule": "engine.rewards.rubric",
    "RubricError": "engine.rewards.rubric",
    "default_rubric": "engine.rewards.rubric",
    "RewardJudge": "engine.rewards.judge",
    "JudgeItem": "engine.rewards.judge",
    "JudgeVerdict": "engine.rewards.judge",
    "JudgeStats": "engine.rewards.judge",
    "RewardModelScorer": "engine.rewards.rm",
    "VLLMRewardClient": "engine.rewards.rm_serving",
    "train_reward_model": "engine.rewards.rm",
    "calibrate_offset": "engine.rewards.rm",
    "RepoReward": "engine.rewards.reward",
    "RewardBatch": "engine.rewards.reward",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.rewards' has no attribute {name!r}")
    if name == "rules":
        return importlib.import_module(module)
    return getattr(importlib.import_module(module), name)
