"""The status-row moves of evaluation runs and branch generations (pending → running → succeeded or
failed): ``engine_job_claim`` and ``engine_job_finish``. The engine itself starts through ``kernel.launcher``."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TypeVar

from django.db import models, transaction
from django.utils import timezone

Row = TypeVar("Row", bound=models.Model)  # a status row: EvalRun, BranchGeneration


def engine_job_claim(row: Row, *, run_dir: Path) -> Row | None:
    """The row, moved from pending to running under its row lock (this worker's host:pid, the start time,
    ``run_dir``); None when it was not pending any more (picked up elsewhere, or finished)."""
    with transaction.atomic():
        row = type(row).objects.select_for_update().get(pk=row.pk)
        if row.status != row.Status.PENDING:
            return None
        row.status, row.started_at = row.Status.RUNNING, timezone.now()
        row.worker = f"{socket.gethostname()}:{os.getpid()}"
        row.run_dir = str(run_dir)
        row.save(update_fields=["status", "started_at", "worker", "run_dir"])
    return row


def engine_job_finish(row: Row, *, status: str, error: str = "", metrics: dict | None = None) -> Row:
    """Record the outcome: status, error, finish time, and ``metrics`` merged into what the row had."""
    row.status, row.error, row.finished_at = status, error, timezone.now()
    row.metrics = {**row.metrics, **(metrics or {})}
    row.save(update_fields=["status", "error", "finished_at", "metrics"])
    return row
