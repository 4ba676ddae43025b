"""The ``transformers.TrainerCallback`` that makes TRL's trainers log through :class:`RunWriter`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from engine.rundir import RunWriter

# Test-only: when set, every rank writes a digest of its trainable parameters here at the end, so a
# distributed test can check that the ranks ended with identical weights (DDP keeps them in sync).
DIGEST_DIR_ENV = "PARLEY_PARAM_DIGEST_DIR"

# Trainer.train() ends with one log of run totals; they belong in result.json, not as a step line.
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss")


class RunWriterCallback(TrainerCallback):
    """Forwards the trainer's step count and logs to a :class:`RunWriter`.

    The writer is created with ``is_main`` from the launcher's rank, so every rank can call it and only
    rank 0 touches the files. ``summary`` keeps the trainer's end-of-training totals; ``extra_metrics``
    (optional) adds metrics the trainer does not log itself, e.g. each reward source's mean.
    """

    def __init__(self, writer: RunWriter, *, extra_metrics: Callable[[], dict[str, float]] | None = None):
        self.writer = writer
        self.extra_metrics = extra_metrics
        self.summary: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.max_steps:
            self.writer.set_total(state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        self.writer.advance(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        if any(key in logs for key in _SUMMARY_KEYS):
            self.summary.update(logs)
            return
        if self.extra_metrics is not None:
            logs.update(self.extra_metrics())
        self.last.update(logs)
        self.writer.log(state.global_step, logs)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        folder = os.environ.get(DIGEST_DIR_ENV)
        if folder and model is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            rank = os.environ.get("RANK", "0")
            (Path(folder) / f"rank{rank}.sha256").write_text(parameter_digest(model))


def parameter_digest(model) -> str:
    """sha256 over the trainable parameters, by name, as float32 bytes."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()
