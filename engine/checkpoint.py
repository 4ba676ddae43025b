"""Checkpoints that resume a run exactly: weights, optimiser, scheduler, RNG, step, data position.

Layout (``engine.rundir.LOOP_LAYOUT``): ``RUN/checkpoints/step-000012/`` holding ``state.pt``
(everything a resume needs), ``meta.json`` (step, time, metrics summary) and ``adapter/`` (the policy
adapter in peft's format, for people and for vLLM); ``engine.rundir.latest_checkpoint`` finds the
last. A checkpoint is written into a temporary directory and renamed into place, so a run killed
mid-write leaves the previous checkpoint as the latest complete one.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.rundir import LOOP_LAYOUT, LOOP_META_FILE, LOOP_STATE_FILE


def rng_state() -> dict[str, Any]:
    """The python, numpy and torch RNG states of this process, and the current CUDA device's when
    CUDA is in use (sampling on a GPU draws from it)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # a CPU ByteTensor: the checkpoint stays portable
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    # Only where this process already uses CUDA: a GPU checkpoint resumed on the CPU skips it.
    if "cuda" in state and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.set_rng_state(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_checkpoint(
    *,
    run_dir: Path,
    step: int,
    state: dict[str, Any],
    meta: dict[str, Any] | None = None,
    write_extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``state`` (any torch-saveable dict) as the checkpoint of ``step``; returns its directory.

    ``write_extra(tmp_dir)`` may add human-facing files (the adapter) before the rename.
    """
    final = LOOP_LAYOUT.path(run_dir, step)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({"step": step, **state}, tmp / LOOP_STATE_FILE)
    if write_extra is not None:
        write_extra(tmp)
    (tmp / LOOP_META_FILE).write_text(
        json.dumps({"step": step, "saved_at": time.time(), **(meta or {})}, indent=2, default=str),
        encoding="utf-8",
    )
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The saved state dict. ``weights_only=False``: it holds RNG tuples and numpy state, and the
    file is one this engine wrote into its own run directory."""
    return torch.load(Path(path) / LOOP_STATE_FILE, map_location="cpu", weights_only=False)
