"""Enqueue Celery tasks only after the surrounding transaction commits, so no task ever reads rows that are
not there yet. Every app enqueues through this module: ``enqueue`` for a task object, ``enqueue_named``
for a task known by name (the kernel's status rows, which import no app's tasks)."""

from celery import Task, current_app
from django.db import transaction


def enqueue(task: Task, *args, queue: str | None = None, **kwargs) -> None:
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs, **options))


def enqueue_named(name: str, *args, queue: str | None = None) -> None:
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: current_app.send_task(name, args=list(args), **options))
