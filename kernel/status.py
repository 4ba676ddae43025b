"""Status rows: every long-running piece of work is a row with one status machine, a worker, a heartbeat
lease, a run directory and its outcome (training jobs, evaluation runs, branch generations; a deployment
on the ``serve`` queue is the next subclass). Only the functions below change ``status``, and each one
guards its transition::

    queued ──row_claim──▶ running ──row_finish──▶ succeeded | failed | cancelled
      ▲                      │
      └──── sweep ───────────┘   heartbeat lapsed: back to the queue, or failed after max attempts

Celery delivers at least once, so a row can be delivered twice. A delivery only ever starts a *queued*
row (``row_claim`` locks it and takes the lease); a delivery that finds it running does nothing. The
supervisor renews the lease with ``row_beat`` every ``PARLEY_POLL_S``; a heartbeat older than
``PARLEY_LEASE_S`` has lapsed and ``kernel.sweep`` recovers the row. A supervisor whose lease was taken
from it learns so at its next beat (``LeaseLost``) and stops its engine.
"""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from kernel.errors import ApplicationError
from kernel.queue import enqueue_named


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (Status.QUEUED, Status.RUNNING)
TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
ALLOWED: dict[str, tuple[str, ...]] = {
    Status.QUEUED: (Status.RUNNING, Status.FAILED, Status.CANCELLED),
    # running → queued: the sweep gives a row whose worker stopped beating back to its queue.
    Status.RUNNING: (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED),
}

ERR_TRANSITION = "A {status} {noun} cannot become {to}."
ERR_LEASE_LOST = "This {noun} is no longer held by {owner} (it is {status}, held by {holder})."


class InvalidTransition(ApplicationError):
    """A status change the row's state does not allow (409)."""

    def __init__(self, message: str, *, status: int = 409):
        super().__init__(message, status=status)


class LeaseLost(InvalidTransition):
    """The caller's lease on the row is gone (the sweep gave the row to another worker, or it ended)."""


class StatusRow(models.Model):
    """The fields every status row has. Subclasses set ``task_name`` (the Celery task that runs one row,
    called with its id) and may lower or raise ``max_attempts``."""

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    queue = models.CharField(max_length=50, default="gpu", help_text="The Celery queue whose workers run it.")
    run_dir = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # -- the lease ----------------------------------------------------------------------------------
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker claimed it.")
    lease_owner = models.CharField(max_length=200, blank=True, help_text="host:pid:task of the supervisor.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_host = models.CharField(max_length=200, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True, help_text="The supervising worker process.")
    engine_pid = models.IntegerField(null=True, blank=True, help_text="The engine's process (and process group).")
    # -- when ---------------------------------------------------------------------------------------
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(default=timezone.now, null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    task_name: ClassVar[str] = ""
    max_attempts: ClassVar[int | None] = None  # None: settings.PARLEY_MAX_ATTEMPTS

    class Meta:
        abstract = True

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def attempt_limit(self) -> int:
        return self.max_attempts or settings.PARLEY_MAX_ATTEMPTS

    @property
    def worker(self) -> str:
        """``host:pid`` of the worker that ran it last, for pages."""
        return f"{self.worker_host}:{self.worker_pid}" if self.worker_host else ""


Row = TypeVar("Row", bound=StatusRow)


def lease_owner_name(*, task_id: str) -> str:
    """The lease holder: this host and process, and the Celery delivery."""
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"


def _noun(model: type[StatusRow]) -> str:
    return str(model._meta.verbose_name)


@transaction.atomic
def row_transition(*, model: type[Row], pk: int, to: str, **fields: Any) -> Row:
    """Move a row to ``to`` under its row lock, stamping the matching time; raises InvalidTransition."""
    row = model.objects.select_for_update().get(pk=pk)
    if to not in ALLOWED.get(row.status, ()):
        raise InvalidTransition(ERR_TRANSITION.format(status=row.status, noun=_noun(model), to=to))
    now = timezone.now()
    if to == Status.RUNNING and row.started_at is None:
        row.started_at = now
    if to == Status.QUEUED:
        row.lease_owner = ""
    if to in TERMINAL:
        row.finished_at, row.lease_owner = now, ""
    for key, value in fields.items():
        setattr(row, key, value)
    row.status = to
    row.save()
    return row


class Action(enum.StrEnum):
    START = "start"  # this delivery runs the row
    BUSY = "busy"  # another worker runs it (if that worker dies, the sweep recovers the row)
    SKIP = "skip"  # finished, cancelled or gone
    DEFER = "defer"  # (training jobs) a higher-priority row waits on the same queue


@dataclass(frozen=True)
class Claim:
    action: Action
    row: Any = None
    previous_host: str = ""  # where the last attempt ran, so a leftover engine there can be stopped
    previous_pid: int | None = None


@transaction.atomic
def row_claim(*, model: type[Row], pk: int, owner: str, **fields: Any) -> Claim:
    """Decide what this delivery does; when it runs the row, take the lease (``fields`` are stored too)."""
    row = model.objects.select_for_update().filter(pk=pk).first()
    if row is None or row.is_terminal:
        return Claim(Action.SKIP, row)
    if row.status == Status.RUNNING:
        return Claim(Action.BUSY, row)
    if row.cancel_requested:
        return Claim(Action.SKIP, row_transition(model=model, pk=pk, to=Status.CANCELLED))
    previous = (row.worker_host, row.engine_pid)
    row = row_transition(
        model=model,
        pk=pk,
        to=Status.RUNNING,
        lease_owner=owner,
        heartbeat_at=timezone.now(),
        worker_host=socket.gethostname(),
        worker_pid=os.getpid(),
        engine_pid=None,
        attempts=row.attempts + 1,
        **fields,
    )
    return Claim(Action.START, row, *previous)


def row_beat(*, row: StatusRow, owner: str, **fields: Any) -> bool:
    """Renew the lease (storing ``fields``); returns whether a cancel was requested. Raises LeaseLost
    when the row is no longer running under ``owner``."""
    model = type(row)
    held = model.objects.filter(pk=row.pk, lease_owner=owner, status=Status.RUNNING)
    if not held.update(heartbeat_at=timezone.now(), **fields):
        raise _lease_lost(model=model, pk=row.pk, owner=owner)
    return bool(model.objects.filter(pk=row.pk).values_list("cancel_requested", flat=True).first())


@transaction.atomic
def row_finish(*, row: Row, owner: str, to: str, error: str = "", metrics: dict | None = None, **fields: Any) -> Row:
    """The supervisor records the outcome: ``to`` (a terminal status), the error, ``metrics`` merged into
    the row's. Raises LeaseLost when the row is no longer ours, InvalidTransition for a non-final ``to``."""
    model = type(row)
    locked = model.objects.select_for_update().get(pk=row.pk)
    if locked.status != Status.RUNNING or locked.lease_owner != owner:
        raise _lease_lost(model=model, pk=row.pk, owner=owner)
    if to not in TERMINAL:
        raise InvalidTransition(ERR_TRANSITION.format(status=locked.status, noun=_noun(model), to=to))
    merged = {**locked.metrics, **(metrics or {})}
    return row_transition(model=model, pk=row.pk, to=to, error=error, metrics=merged, **fields)


def _lease_lost(*, model: type[StatusRow], pk: int, owner: str) -> LeaseLost:
    status, holder = model.objects.filter(pk=pk).values_list("status", "lease_owner").first() or ("gone", "")
    return LeaseLost(ERR_LEASE_LOST.format(noun=_noun(model), owner=owner, status=status, holder=holder or "nobody"))


def row_enqueue(row: StatusRow) -> None:
    """Send the row's task (by name, with the row's id) to the row's queue once the transaction commits,
    so no worker reads a row that is not there yet."""
    enqueue_named(row.task_name, row.pk, queue=row.queue)
