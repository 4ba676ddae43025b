"""Dataset snapshots, training jobs and their metrics (``jobs.py``). Reward configuration is the rewards app's."""

from .jobs import DatasetSnapshot, JobMetric, JobNode, JobSample, Method, TrainingJob

__all__ = [
    "DatasetSnapshot",
    "JobMetric",
    "JobNode",
    "JobSample",
    "Method",
    "TrainingJob",
]
