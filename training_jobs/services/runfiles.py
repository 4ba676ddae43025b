"""Reading a run directory while the engine writes it (no Django here: plain files in, dicts out).

``metrics.jsonl`` and ``samples.jsonl`` are appended line by line, so a reader keeps a byte offset and
only parses complete lines; when a resumed run trims the file (it drops lines past its checkpoint) the
file shrinks and the reader starts over. ``progress.json`` is replaced atomically by the engine.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from engine.runio import METRICS_FILE, PROGRESS_FILE, RESULT_FILE, SAMPLES_FILE

LOG_FILE = "engine.log"


class JsonlTail:
    """New complete JSON lines of one file since the last call."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0

    def read_new(self) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # trimmed by a resumed run: read it again from the start
            self.offset = 0
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next call
        self.offset += end
        rows = []
        for line in data[:end].splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


class RunTail:
    """Metrics, samples and progress of one run directory."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.metrics = JsonlTail(self.run_dir / METRICS_FILE)
        self.samples = JsonlTail(self.run_dir / SAMPLES_FILE)

    def progress(self) -> dict[str, Any]:
        return read_json(self.run_dir / PROGRESS_FILE) or {}

    def result(self) -> dict[str, Any] | None:
        return read_json(self.run_dir / RESULT_FILE)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def log_tail(run_dir: Path | str, *, lines: int = 40) -> str:
    """The last ``lines`` lines of the engine's log (what a failed job shows its owner)."""
    path = Path(run_dir) / LOG_FILE
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""


def has_checkpoint(run_dir: Path) -> bool:
    """The engine left something to resume from: our PPO loop's ``checkpoints/step-*`` or HF's
    ``checkpoint-*`` (TRL trainers)."""
    run_dir = Path(run_dir)
    return any(run_dir.glob("checkpoints/step-*")) or any(run_dir.glob("checkpoint-*"))
