"""Dataset snapshots, training jobs and their metrics (``jobs.py``). Reward configuration is the rewards app's."""

from .jobs import DatasetSnapshot, JobMetric, JobSample, Method, TrainingJob

__all__ = [
    "DatasetSnapshot",
    "JobMetric",
    "JobSample",
    "Method",
    "TrainingJob",
]
