"""Enqueue Celery tasks only after the surrounding transaction commits (STYLE.md #3), so no task ever
reads rows that are not there yet. Every app enqueues through ``enqueue``."""

from celery import Task
from django.db import transaction


def enqueue(task: Task, *args, queue: str | None = None, **kwargs) -> None:
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs, **options))
