"""The run directory: the whole interface between the web app and the engine (ADR 0003), owned here.

Every name in it, the writers the engine uses and the tolerant readers the web app uses live in this
module, so neither side ever spells a file name or guesses a layout. It imports no torch and no
Django: the web app imports it, and so does every trainer.

=====================  =========================  ==========================================================
name                   written by                 content
=====================  =========================  ==========================================================
``config.json``        the web app (its worker)   the typed engine config (``engine.config``)
``engine.log``         the launcher               the engine's stdout and stderr; its tail is a failure's error
``engine-node-N.log``  the launcher               node N's log in a multi-node run (node 0 writes engine.log)
``metrics.jsonl``      the engine, each log step  ``{"step", "time", ...metrics}``; NaN/inf become null
``samples.jsonl``      RL trainers, each log      generated replies with their reward breakdown
``progress.json``      the engine, each step      ``{"step", "total", "fraction", "elapsed_s", "eta_s",
                                                  "status", "updated_at"}``, replaced atomically
``checkpoints/``       the engine                 TRL's ``checkpoint-N/`` or our loop's ``step-NNNNNN/``
``adapter/``           the engine, at the end     the final LoRA adapter (and tokenizer)
``rm_meta.json``       the RM trainer, at the end the centring offset and what the RM was trained on
``result.json``        the engine, once, at end   the keys of :class:`ResultKey`
=====================  =========================  ==========================================================

``python -m engine generate`` and ``score`` take and write JSONL files named by :func:`generate_files`
and :func:`score_files`. Only the main process writes (``is_main``): under ``torchrun`` every rank runs
the same code and rank 0 alone owns the files.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------------------
CONFIG_FILE = "config.json"
LOG_FILE = "engine.log"


def node_log_file(node: int) -> str:
    """The log of node ``node`` of a multi-node run (node 0, which hosts the rendezvous, keeps LOG_FILE)."""
    return LOG_FILE if node == 0 else f"engine-node-{node}.log"


METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
PROGRESS_FILE = "progress.json"
RESULT_FILE = "result.json"
ADAPTER_DIR = "adapter"
RM_META_FILE = "rm_meta.json"
RM_SERVED_DIR = "served"  # a trained RM merged for vLLM's /classify (engine.rewards.rm_serving)
CHECKPOINTS_DIR = "checkpoints"
ROLLOUT_ADAPTERS_DIR = "rollout-adapters"  # adapters pushed to a vLLM rollout server, one per step

STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED = "running", "completed", "failed"  # progress.json

# The training-time probe (held-out prompts scored every ``probe_every`` steps), in metrics.jsonl.
PROBE_PREFIX = "probe/"
PROBE_SCORE = "probe/score"
PROBE_R_TOTAL = "probe/r_total"
PROBE_VIOLATION_RATE = "probe/rule_violation_rate"
PROBE_SIZE = "probe/size"


class ResultKey(StrEnum):
    """The keys of ``result.json`` (trainers may add their own beside these)."""

    METHOD = "method"
    STEPS = "steps"
    ADAPTER = "adapter"  # absolute, or relative to the run directory
    BASE_MODEL = "base_model"
    RESUMED_FROM = "resumed_from"  # the step the run continued from (0: it started fresh)
    METRICS = "metrics"  # the last logged metrics and the trainer's summary
    WORLD_SIZE = "world_size"


class RowKey(StrEnum):
    """The keys of the generate and score files' rows that the web app writes or reads."""

    ID = "id"
    PROMPT = "prompt"
    TASK = "task"
    REPLY = "reply"
    R_MODEL = "r_model"
    E_JUDGE = "e_judge"


def generate_files(run_dir: Path | str, *, tag: str = "") -> tuple[Path, Path]:
    """``(prompts, replies)`` of one ``engine generate`` call; ``tag`` tells several calls apart."""
    suffix = f"-{tag}" if tag else ""
    return Path(run_dir) / f"prompts{suffix}.jsonl", Path(run_dir) / f"replies{suffix}.jsonl"


def score_files(run_dir: Path | str) -> tuple[Path, Path]:
    """``(replies to score, scores)`` of one ``engine score`` call."""
    return Path(run_dir) / "score-in.jsonl", Path(run_dir) / "score-out.jsonl"


# ---------------------------------------------------------------------------------------------------
# checkpoint layouts: the two trainer families save differently, and a resume must find either
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointLayout:
    """How one trainer family names its checkpoints under ``checkpoints/``, and which files mark a
    save as complete (a run killed mid-save leaves a directory without them)."""

    family: str
    prefix: str
    width: int  # zero padding of the step
    complete_when: tuple[str, ...]

    def path(self, run_dir: Path | str, step: int) -> Path:
        return Path(run_dir) / CHECKPOINTS_DIR / f"{self.prefix}{step:0{self.width}d}"

    def step_of(self, name: str) -> int | None:
        match = re.fullmatch(re.escape(self.prefix) + r"(\d+)", name)
        return int(match.group(1)) if match else None


# transformers' Trainer (under TRL): output_dir=checkpoints, ``checkpoint-{global_step}``, and
# trainer_state.json written after the weights, optimiser, scheduler and RNG.
TRL_LAYOUT = CheckpointLayout("trl", "checkpoint-", 0, ("trainer_state.json",))
# Our PPO/REPO loop (engine.checkpoint): written to a temporary name and renamed into place.
LOOP_STATE_FILE, LOOP_META_FILE = "state.pt", "meta.json"
LOOP_LAYOUT = CheckpointLayout("loop", "step-", 6, (LOOP_STATE_FILE, LOOP_META_FILE))
LAYOUTS = (TRL_LAYOUT, LOOP_LAYOUT)
METHOD_LAYOUT = {"sft": TRL_LAYOUT, "dpo": TRL_LAYOUT, "rm": TRL_LAYOUT, "grpo": TRL_LAYOUT}
METHOD_LAYOUT |= {"ppo": LOOP_LAYOUT, "repo": LOOP_LAYOUT}


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    layout: CheckpointLayout


def checkpoints(run_dir: Path | str, *, layout: CheckpointLayout | None = None) -> list[Checkpoint]:
    """Every complete checkpoint of the run, by step (temporary and half-written ones are skipped)."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for candidate in (layout,) if layout else LAYOUTS:
        for path in root.iterdir():
            step = candidate.step_of(path.name)
            if step is not None and all((path / name).is_file() for name in candidate.complete_when):
                found.append(Checkpoint(path, step, candidate))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(run_dir: Path | str, *, layout: CheckpointLayout | None = None) -> Checkpoint | None:
    found = checkpoints(run_dir, layout=layout)
    return found[-1] if found else None


def has_checkpoint(run_dir: Path | str) -> bool:
    """The engine left something ``--resume`` continues from."""
    return latest_checkpoint(run_dir) is not None


# ---------------------------------------------------------------------------------------------------
# writers (the engine)
# ---------------------------------------------------------------------------------------------------
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


def write_rows(path: Path, rows: list[dict]) -> None:
    """A JSONL file of ``rows`` (the generate and score files, both ways)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(jsonable(r), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


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


def run_result(
    *,
    method: str,
    steps: int,
    adapter: str | None,
    resumed_from: int,
    metrics: dict,
    base_model: str | None = None,
    world_size: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """The ``result.json`` a trainer hands to :meth:`RunWriter.finish` (``extra``: its own keys)."""
    return {
        ResultKey.METHOD: method,
        ResultKey.STEPS: int(steps),
        ResultKey.ADAPTER: adapter,
        ResultKey.BASE_MODEL: base_model,
        ResultKey.RESUMED_FROM: int(resumed_from),
        ResultKey.METRICS: metrics,
        ResultKey.WORLD_SIZE: int(world_size),
        **extra,
    }


def trim_metrics(run_dir: Path, *, after_step: int) -> int:
    """Drop metrics lines past ``after_step``: a run killed after its last checkpoint logged steps that
    the resumed run logs again. Returns how many lines were dropped."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            step = json.loads(line).get("step", 0)
        except json.JSONDecodeError:
            dropped += 1  # the half-written line of a killed run
            continue
        if step > after_step:
            dropped += 1
        else:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    return dropped


class RunWriter:
    """Metrics, samples, progress and result files for one run, written by the main process only.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with RunWriter(d, total_steps=2) as w:
    ...     w.log(1, {"loss": 0.5})
    ...     _ = w.finish({"steps": 1})
    >>> json.loads((d / PROGRESS_FILE).read_text())["status"]
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

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one metrics line for ``step`` and move the progress on to it."""
        if self.is_main:
            line = {"step": int(step), "time": round(time.time(), 3), **jsonable(dict(metrics))}
            with (self.run_dir / METRICS_FILE).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, sort_keys=False) + "\n")
        self.advance(step)

    def samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """Append generated replies of ``step`` with their reward breakdown (the job page shows them)."""
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


# ---------------------------------------------------------------------------------------------------
# tolerant readers (the web app, while the engine writes)
# ---------------------------------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or (being replaced) unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_rows(path: Path) -> dict[Any, dict]:
    """An engine output file's rows by id, in file order."""
    rows = (json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
    return {row[RowKey.ID]: row for row in rows}


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every metrics line so far; a half-written last line (the run is still writing) is skipped."""
    return JsonlTail(Path(run_dir) / METRICS_FILE).read_new(partial_last_line=True)


def log_tail(run_dir: Path | str, *, lines: int = 40, node: int = 0) -> str:
    """The last ``lines`` lines of the engine's log (what a failed run shows its owner); ``node``'s log
    in a multi-node run."""
    try:
        with (Path(run_dir) / node_log_file(node)).open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""


def result_adapter(result: dict[str, Any], *, run_dir: Path) -> str:
    """The adapter the run reported (relative paths are inside the run dir), else ``adapter/`` if there."""
    reported = result.get(ResultKey.ADAPTER) or ""
    if reported:
        path = Path(reported)
        return str(path if path.is_absolute() else Path(run_dir) / path)
    default = Path(run_dir) / ADAPTER_DIR
    return str(default) if default.exists() else ""


def result_metrics(result: dict[str, Any]) -> dict[str, Any]:
    metrics = result.get(ResultKey.METRICS)
    return metrics if isinstance(metrics, dict) else {}


class JsonlTail:
    """New complete JSON lines of one file since the last call. A half-written last line waits for
    the next call; a file that shrank (a resumed run trimmed it) is read again from the start."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0

    def read_new(self, *, partial_last_line: bool = False) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = len(data) if partial_last_line else data.rfind(b"\n") + 1
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
    """Metrics, samples, progress and result of one run directory, read while the engine writes it."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.metrics = JsonlTail(self.run_dir / METRICS_FILE)
        self.samples = JsonlTail(self.run_dir / SAMPLES_FILE)

    def progress(self) -> dict[str, Any]:
        return read_json(self.run_dir / PROGRESS_FILE) or {}

    def result(self) -> dict[str, Any] | None:
        return read_json(self.run_dir / RESULT_FILE)
