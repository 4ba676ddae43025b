"""What a PPO / REPO checkpoint holds (its layout is ``engine.rundir.LOOP_LAYOUT``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import rng_state, save_checkpoint
from engine.rundir import ADAPTER_DIR, PROBE_PREFIX
from engine.train.ppo_data import PromptStream
from engine.train.ppo_dist import Distributed, barrier, gather_objects
from engine.train.ppo_model import ActorCritic, save_policy_adapter
from engine.train.sharding import full_optimizer_state


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
    # Sharded (FSDP): every rank gathers the whole tensors, rank 0 writes them; the files are those
    # of a replicated run, so the checkpoint resumes with any world size and on one CPU process.
    gathered = (
        (ac.trainable_state(), full_optimizer_state(optimizer), ac.policy_adapter_state()) if ctx.sharded else None
    )
    if ctx.is_main:
        trainable, optimizer_state, adapter_state = gathered or (ac.trainable_state(), optimizer.state_dict(), None)
        state = {
            "trainable": to_cpu(trainable),
            "optimizer": to_cpu(optimizer_state),
            "scheduler": scheduler.state_dict(),
            "data": stream.state_dict(),
            "rng": rngs,
            "world_size": ctx.world_size,
        }

        def write_adapter(tmp: Path) -> None:
            save_policy_adapter(ac, tmp / ADAPTER_DIR, state=adapter_state)
            head = {k.removeprefix("value_head."): v for k, v in trainable.items() if k.startswith("value_head.")}
            torch.save(to_cpu(head), tmp / "value_head.pt")

        summary = {k: v for k, v in metrics.items() if k.startswith(("reward/", PROBE_PREFIX))}
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
