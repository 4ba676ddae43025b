"""Reward configuration (versioned rule sets and judge rubrics) and, in ``jobs.py``, snapshots, jobs and runs."""

from .jobs import DatasetSnapshot, JobMetric, JobSample, Method, SnapshotKind, TrainingJob
from .rewards import RewardConfig, RubricVersion, RuleSetVersion

__all__ = [
    "DatasetSnapshot",
    "JobMetric",
    "JobSample",
    "Method",
    "RewardConfig",
    "RubricVersion",
    "RuleSetVersion",
    "SnapshotKind",
    "TrainingJob",
]
