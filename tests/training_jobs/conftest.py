"""Fixtures of the training_jobs tests: our own killable Celery workers (see workers.py)."""

from tests.training_jobs.workers import start_worker  # noqa: F401
