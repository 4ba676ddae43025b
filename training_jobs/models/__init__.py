"""Reward configuration (versioned rule sets and judge rubrics) and, in ``jobs.py``, snapshots, jobs and runs."""

from .rewards import RewardConfig, RubricVersion, RuleSetVersion

__all__ = ["RewardConfig", "RubricVersion", "RuleSetVersion"]
