"""The sweep: recover status rows whose worker stopped beating, so no row stays ``running`` forever.

Celery beat runs it every ``PARLEY_SWEEP_S`` (``kernel.tasks.sweep_leases``; ``make run``'s worker
embeds beat). A running row whose heartbeat is older than ``PARLEY_LEASE_S`` (or that never beat) has
lapsed: its worker was killed, lost its machine or hangs. The sweep then

- cancels it when a cancel was requested (nobody is left to stop the engine, and the new claim would
  not start it);
- fails it, in words, once it has been claimed ``attempt_limit`` times (a run that kills its worker
  every time must stop somewhere);
- otherwise gives it back to its queue with a note and sends its task again: the next claim starts it
  afresh, and a training job resumes from its last checkpoint.

It also re-sends the task of a row that has waited *queued* for longer than ``PARLEY_RESEND_QUEUED_S``
(at most once per that time; the time of the last re-send is kept in ``heartbeat_at``, which a queued
row does not otherwise use): a broker that lost the message (the filesystem broker of ``make run``, a
Redis restarted without its append-only file) would otherwise leave it queued forever. A duplicate
message is harmless: a delivery only ever starts a queued row (``row_claim``).

Every status-row model of every installed app is swept (found through the app registry, so the kernel
imports no app). Rows are locked with ``skip_locked``: two sweeps, or a sweep and a finishing worker,
never act on the same row twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kernel.status import Status, StatusRow, row_enqueue, row_transition

logger = logging.getLogger(__name__)

NOTE_REQUEUED = "Its worker stopped responding (last heartbeat on {host}); queued again, attempt {next} of {limit}."
ERR_GAVE_UP = (
    "Its worker stopped responding (last heartbeat on {host}) on each of {attempts} attempts; "
    "Parley gave up. Check the worker's log and the run directory, then start it again."
)
ERR_CANCELLED = "Cancelled on request; its worker had stopped responding."


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued or self.resent or self.failed or self.cancelled)


def status_row_models() -> list[type[StatusRow]]:
    return [m for m in apps.get_models() if issubclass(m, StatusRow)]


def lapsed(*, now: datetime | None = None) -> Q:
    """Running rows whose lease has lapsed: a stale heartbeat, or none at all since a stale start."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PARLEY_LEASE_S)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    return Q(status=Status.RUNNING) & stale


def waiting(*, now: datetime | None = None) -> Q:
    """Queued rows waiting longer than ``PARLEY_RESEND_QUEUED_S`` whose task was not re-sent since."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PARLEY_RESEND_QUEUED_S)
    not_resent = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)
    return Q(status=Status.QUEUED, queued_at__lt=cutoff) & not_resent


@transaction.atomic
def row_resend(*, model: type[StatusRow], pk: int, now: datetime | None = None) -> bool:
    """Send a long-queued row's task again (its message may be lost); True when sent."""
    row = model.objects.select_for_update(skip_locked=True).filter(waiting(now=now), pk=pk).first()
    if row is None:
        return False
    model.objects.filter(pk=pk).update(heartbeat_at=now or timezone.now())
    row_enqueue(row)
    return True


def rows_sweep(*, now: datetime | None = None) -> SweepReport:
    """Recover every lapsed row of every status-row model; returns what it did (labels ``model:pk``)."""
    report = SweepReport()
    for model in status_row_models():
        for pk in model.objects.filter(lapsed(now=now)).values_list("pk", flat=True):
            outcome = row_recover(model=model, pk=pk, now=now)
            if outcome:
                getattr(report, outcome).append(f"{model._meta.label_lower}:{pk}")
        for pk in model.objects.filter(waiting(now=now)).values_list("pk", flat=True):
            if row_resend(model=model, pk=pk, now=now):
                report.resent.append(f"{model._meta.label_lower}:{pk}")
    if report:
        logger.warning("sweep: %s", report)
    return report


@transaction.atomic
def row_recover(*, model: type[StatusRow], pk: int, now: datetime | None = None) -> str | None:
    """Recover one lapsed row: ``"requeued"``, ``"failed"`` or ``"cancelled"``; None when it no longer
    needs it (it beat, finished, or another sweep holds it)."""
    row = model.objects.select_for_update(skip_locked=True).filter(lapsed(now=now), pk=pk).first()
    if row is None:
        return None
    host = row.worker_host or "an unknown host"
    if row.cancel_requested:
        row_transition(model=model, pk=pk, to=Status.CANCELLED, error=ERR_CANCELLED)
        return "cancelled"
    if row.attempts >= row.attempt_limit:
        row_transition(model=model, pk=pk, to=Status.FAILED, error=ERR_GAVE_UP.format(host=host, attempts=row.attempts))
        return "failed"
    note = NOTE_REQUEUED.format(host=host, next=row.attempts + 1, limit=row.attempt_limit)
    row_enqueue(row_transition(model=model, pk=pk, to=Status.QUEUED, error=note))
    return "requeued"
