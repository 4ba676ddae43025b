"""What a PPO / REPO checkpoint holds, and the trimming of metrics a resumed run will redo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import rng_state, save_checkpoint
from engine.runio import METRICS_FILE
from engine.train.ppo_data import PromptStream
from engine.train.ppo_dist import Distributed, barrier, gather_objects
from engine.train.ppo_model import ActorCritic, save_policy_adapter


def save_training_state(
    *,
    ac: ActorCritic,
    run_dir: Path,
    step: int,
    optimizer: torch.optim.Optimizer,
    scheduler,
    stream: PromptStream,
    ctx: Distributed,
    metrics: dict[str, Any],
) -> Path | None:
    """Adapters and value head, optimiser, scheduler, every rank's RNG, the data position and the
    step, written by rank 0 (all ranks hold identical weights; only their RNG differs).

    Every tensor is saved from the CPU, so a checkpoint written on a GPU resumes on the CPU and back
    (:func:`engine.checkpoint.load_checkpoint` maps to the CPU; loading copies onto the model's device).
    """
    rngs = gather_objects(rng_state(), ctx)  # a collective: every rank calls it
    path = None
    if ctx.is_main:
        state = {
            "trainable": to_cpu(ac.trainable_state()),
            "optimizer": to_cpu(optimizer.state_dict()),
            "scheduler": scheduler.state_dict(),
            "data": stream.state_dict(),
            "rng": rngs,
            "world_size": ctx.world_size,
        }

        def write_adapter(tmp: Path) -> None:
            save_policy_adapter(ac, tmp / "adapter")
            torch.save(ac.value_head.state_dict(), tmp / "value_head.pt")

        summary = {k: v for k, v in metrics.items() if k.startswith(("reward/", "probe/"))}
        path = save_checkpoint(run_dir=run_dir, step=step, state=state, meta=summary, write_extra=write_adapter)
    barrier(ctx)
    return path


def to_cpu(obj: Any) -> Any:
    """``obj`` with every tensor in it (dicts, lists, tuples) moved to the CPU; CPU tensors as they are."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def trim_metrics(run_dir: Path, *, after_step: int) -> int:
    """Drop metrics lines past ``after_step``: a run killed after its last checkpoint logged steps
    that the resumed run will log again. Returns how many lines were dropped."""
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
