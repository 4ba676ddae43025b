"""What a run writes into its directory, the engine's half of the web-app boundary (DESIGN.md).

``metrics.jsonl``  one JSON object per logged step: ``{"step", "time", ...metrics}``
``progress.json``  ``{"step", "total", "fraction", "elapsed_s", "eta_s", "status", "updated_at"}``,
                   replaced atomically (temp file + rename) so a reader never sees half a file
``result.json``    the final result (metrics, adapter path, steps), written once at the end

Only the main process writes (``is_main``): under ``torchrun`` every rank runs the same code and rank 0
alone owns the files. On a terminal a tqdm bar shows the same progress.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
PROGRESS_FILE = "progress.json"
RESULT_FILE = "result.json"
SAMPLES_FILE = "samples.jsonl"
CONFIG_FILE = "config.json"

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"


def is_main_process() -> bool:
    """Rank 0 (or no distributed launcher at all): the process that writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def jsonable(value: Any) -> Any:
    """Plain JSON for a metric: tensors and numpy scalars become floats, NaN/inf become null."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class RunWriter:
    """Metrics, progress and result files for one run, written by the main process only.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with RunWriter(d, total_steps=2) as w:
    ...     w.log(1, {"loss": 0.5})
    ...     _ = w.finish({"steps": 1})
    >>> json.loads((d / "progress.json").read_text())["status"]
    'completed'
    """

    def __init__(self, run_dir: Path, *, total_steps: int, is_main: bool = True):
        self.run_dir = Path(run_dir)
        self.total = max(int(total_steps), 0)
        self.is_main = is_main
        self.step = 0
        self.status = STATUS_RUNNING
        self.started = time.monotonic()
        self._bar = None
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if sys.stderr.isatty():
                from tqdm.auto import tqdm

                self._bar = tqdm(total=self.total or None, unit="step", dynamic_ncols=True)
            self._write_progress()

    # -- the three files -----------------------------------------------------------------------
    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one metrics line for ``step`` and move the progress on to it."""
        if self.is_main:
            line = {"step": int(step), "time": round(time.time(), 3), **jsonable(dict(metrics))}
            with (self.run_dir / METRICS_FILE).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, sort_keys=False) + "\n")
        self.advance(step)

    def samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """Append generated replies of ``step`` with their reward breakdown to ``samples.jsonl``
        (the job page shows them beside the curves)."""
        if not self.is_main or not rows:
            return
        with (self.run_dir / SAMPLES_FILE).open("a", encoding="utf-8") as handle:
            for index, row in enumerate(rows):
                handle.write(json.dumps({"step": int(step), "index": index, **jsonable(dict(row))}) + "\n")

    def advance(self, step: int) -> None:
        """Record that ``step`` optimiser steps are done (no metrics line)."""
        step = int(step)
        if self._bar is not None and step > self.step:
            self._bar.update(step - self.step)
        self.step = max(self.step, step)
        if self.is_main:
            self._write_progress()

    def set_total(self, total_steps: int) -> None:
        """Trainers often learn their step count only once the data is loaded."""
        self.total = max(int(total_steps), 0)
        if self._bar is not None:
            self._bar.total = self.total or None
            self._bar.refresh()
        if self.is_main:
            self._write_progress()

    def finish(self, result: dict[str, Any], *, status: str = STATUS_COMPLETED) -> dict[str, Any]:
        """Write ``result.json`` and the final progress; returns the result as written."""
        result = jsonable(dict(result))
        self.status = status
        if self.is_main:
            write_json_atomic(self.run_dir / RESULT_FILE, result)
            self._write_progress()
        self.close()
        return result

    def fail(self, error: str) -> None:
        self.status = STATUS_FAILED
        if self.is_main:
            self._write_progress(error=error)
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and self.status == STATUS_RUNNING:
            self.fail(f"{exc_type.__name__}: {exc}".rstrip(": "))
        self.close()

    # -- progress ------------------------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        fraction = min(self.step / self.total, 1.0) if self.total else 0.0
        if self.status == STATUS_COMPLETED:
            fraction = 1.0
        eta = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else (0.0 if fraction >= 1 else None)
        return {
            "step": self.step,
            "total": self.total,
            "fraction": round(fraction, 6),
            "elapsed_s": round(elapsed, 3),
            "eta_s": None if eta is None else round(eta, 3),
            "status": self.status,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _write_progress(self, **extra: Any) -> None:
        write_json_atomic(self.run_dir / PROGRESS_FILE, {**self.progress(), **extra})


def trainer_callback(writer: RunWriter):
    """A ``transformers.TrainerCallback`` logging through ``writer`` (imported lazily: this module
    stays free of transformers for the web app, which reads run directories with it)."""
    from engine.train.callbacks import RunWriterCallback

    return RunWriterCallback(writer)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every metrics line so far; a half-written last line (the run is still writing) is skipped."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
