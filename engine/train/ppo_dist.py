"""Data-parallel PPO / REPO under ``torchrun`` (gloo on the CPU, NCCL on GPUs), and the loop's device.

Two modes (``parallel`` in the config). ``ddp``: every rank holds the whole base and the whole
(small) trainable set, the LoRA adapters and the value head; each rank rolls out its own slice of the
batch; before each optimiser step the gradients are averaged in buckets (a few flattened all-reduces,
as DDP's), so all ranks take identical optimiser steps and stay bit-identical. torch's DDP wrapper
would do the same but cannot follow the per-forward adapter switching of the shared base.
``fsdp``: the base, the adapters and the value head are sharded with FSDP2 (engine/train/sharding.py);
FSDP reduce-scatters the gradients itself, and the loop's collectives skip its sharded tensors.

The device (:func:`train_device`): ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU;
``PARLEY_DEVICE=cpu`` forces the CPU on a GPU machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

DEVICE_ENV = "PARLEY_DEVICE"


def train_device() -> torch.device:
    """The one device of the PPO / REPO loop: ``cuda:LOCAL_RANK`` (made the current CUDA device) when
    CUDA is available, else ``cpu``. ``PARLEY_DEVICE=cpu`` forces the CPU; ``cuda`` insists on CUDA."""
    forced = os.environ.get(DEVICE_ENV, "").strip().lower()
    if forced not in ("", "auto", "cpu", "cuda"):
        raise ValueError(f"{DEVICE_ENV} must be cpu, cuda or auto, got {forced!r}")
    if forced == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if forced == "cuda":
            raise RuntimeError(f"{DEVICE_ENV}=cuda but torch sees no CUDA device")
        return torch.device("cpu")
    index = int(os.environ.get("LOCAL_RANK", "0"))
    if index >= torch.cuda.device_count():
        raise RuntimeError(f"LOCAL_RANK={index} but only {torch.cuda.device_count()} CUDA device(s)")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")  # where the models and the loop's tensors live
    parallel: str = "ddp"  # ddp (replicated) or fsdp (sharded with FSDP2)

    @property
    def sharded(self) -> bool:
        """The model is sharded with FSDP2: every rank must take part in each forward pass."""
        return self.parallel == "fsdp" and self.enabled

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(*, parallel: str = "ddp") -> Distributed:
    """Pick the device and join the process group when launched by torchrun (``WORLD_SIZE`` > 1):
    NCCL when the device is a GPU, gloo on the CPU. ``parallel``: ``ddp`` or ``fsdp`` (with one
    process, nothing is sharded either way)."""
    device = train_device()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(device=device, parallel=parallel)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device, parallel=parallel)


def shutdown_distributed(ctx: Distributed) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


GRADIENT_BUCKET_BYTES = 25 * 2**20  # DDP's default bucket size


def all_reduce_gradients(params: list[torch.nn.Parameter], ctx: Distributed) -> int:
    """Average gradients over ranks in buckets of ``GRADIENT_BUCKET_BYTES`` (one all-reduce per bucket,
    not per tensor); a missing gradient counts as zero so every rank calls the same collectives in the
    same order. Gradients of FSDP-sharded parameters are skipped: FSDP has reduce-scattered them.
    Returns the number of all-reduce calls."""
    from engine.train.sharding import bucketed_all_reduce_mean, is_sharded

    if not ctx.enabled:
        return 0
    grads = []
    for param in params:
        if is_sharded(param):
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        grads.append(param.grad)
    return bucketed_all_reduce_mean(grads, world_size=ctx.world_size, bucket_bytes=GRADIENT_BUCKET_BYTES)


def mean_over_ranks(metrics: dict[str, float], ctx: Distributed) -> dict[str, float]:
    """The mean of each scalar metric over ranks (same keys on every rank)."""
    if not ctx.enabled or not metrics:
        return metrics
    keys = sorted(metrics)
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)  # NCCL reduces CUDA tensors only
    return dict(zip(keys, (values / ctx.world_size).cpu().tolist(), strict=True))


def gather_objects(obj: Any, ctx: Distributed) -> list[Any]:
    """Every rank's ``obj``, in rank order (e.g. the RNG states a checkpoint must hold)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: Distributed) -> Any:
    """Rank 0's ``obj`` on every rank (the others pass anything, e.g. None)."""
    if not ctx.enabled:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(ctx: Distributed) -> None:
    if ctx.enabled:
        dist.barrier()


def parameter_digest(params: list[torch.nn.Parameter]) -> str:
    """sha256 of the trainable weights' bytes: equal digests on every rank = replicas in sync. Sharded
    weights are gathered first (a collective), so the digest is that of the whole weights."""
    import hashlib

    from engine.train.sharding import full_tensor

    digest = hashlib.sha256()
    for param in params:
        digest.update(full_tensor(param.detach()).cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
