"""The one way the web app runs the engine: ``python -m engine ...`` in a subprocess (DESIGN.md "The boundary
that matters": the engine never imports Django, the web app never imports torch).

Used by Celery tasks on the ``gpu`` queue (evaluation runs, branch generations). Rows travel as JSONL files
in the caller's run directory; the engine's stdout and stderr go to a log there, whose tail becomes the
error when the engine fails. Each such piece of work has a status row (pending → running → succeeded or
failed, with ``worker``, ``run_dir``, ``error``, ``metrics`` and timestamps): ``engine_job_claim`` and
``engine_job_finish`` move it along.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

LOG_TAIL_CHARS = 2000
Row = TypeVar("Row", bound=models.Model)  # a status row: EvalRun, BranchGeneration


class EngineError(RuntimeError):
    """The engine subprocess failed; the message holds the end of its log."""


def engine_run(args: list[str], *, log: Path) -> None:
    """Run ``python -m engine *args`` (``settings.PARLEY_PYTHON`` or this interpreter), appending to ``log``."""
    python = settings.PARLEY_PYTHON or sys.executable
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log.open("ab") as out:
        code = subprocess.run(
            [python, "-m", "engine", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if code != 0:
        raise EngineError(f"engine {args[0]} exited with {code}: {log.read_text(errors='replace')[-LOG_TAIL_CHARS:]}")


def read_jsonl(path: Path) -> dict[str, dict]:
    """Engine output rows by id, in file order."""
    return {row["id"]: row for row in map(json.loads, path.read_text().splitlines()) if row}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


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
