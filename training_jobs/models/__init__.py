"""Reward configuration (versioned rule sets and judge rubrics) and, in ``jobs.py``, snapshots, jobs and runs."""

from .jobs import DatasetSnapshot, JobMetric, JobSample, JobStatus, Method, TrainingJob
from .rewards import RewardConfig, RubricVersion, RuleSetVersion

__all__ = [
    "DatasetSnapshot",
    "JobMetric",
    "JobSample",
    "JobStatus",
    "Method",
    "RewardConfig",
    "RubricVersion",
    "RuleSetVersion",
    "TrainingJob",
]
