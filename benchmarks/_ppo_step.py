"""One PPO / REPO update step on a realistic shape and its peak memory: the part the memory
benchmarks share (``bench_memory.py``, one process per variant; ``bench_sharding.py``, one torchrun
per variant).

- :func:`add_step_arguments`, :func:`child_command` and :func:`child_env`: the size options, and how a
  variant's child process is started with them (glibc's mmap threshold fixed, this checkout first);
- :func:`shape_model_dir`: the random model of a real architecture's dimensions (``engine/shapes.py``),
  written once into the cache;
- :func:`step_config`: the paper preset on that model, float32 (what "auto" gives on the CPU), one
  micro-batch of ``batch`` rows, one optimiser step per update;
- :func:`build_step`: the actor-critic (sharded under ``parallel: fsdp``), a synthetic experience of
  ``prompt`` + ``reply`` tokens per row, AdamW;
- :func:`measure_steps`: a warm-up step (AdamW's state), then the peak RSS and mean time of the
  measured steps of the loop's own ``ppo_update`` (and the peak before the optimiser step, that of
  the forward and backward passes); :func:`runtime_rss_mb`: the RSS before the model is
  built (the runtime, to subtract). Linux only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The size options each variant's child process is given, as the parent got them.
OPTIONS = ("shape", "batch", "prompt", "reply", "chunk", "steps", "threads")


def add_step_arguments(parser: argparse.ArgumentParser, *, batch: int, prompt: int, reply: int, steps: int) -> None:
    """The options of :data:`OPTIONS` (with the benchmark's own default sizes) and the mmap threshold."""
    parser.add_argument("--shape", default="qwen3-0.6b")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--prompt", type=int, default=prompt)
    parser.add_argument("--reply", type=int, default=reply)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mmap-threshold", type=int, default=65536, help="glibc's, for the measured processes")


def child_command(args: argparse.Namespace) -> list[str]:
    """The :data:`OPTIONS` of ``args`` as command-line arguments for a variant's child process."""
    return [f"--{key}={getattr(args, key)}" for key in OPTIONS]


def child_env(args: argparse.Namespace, **extra: str) -> dict[str, str]:
    """The environment of a measured process: this checkout first, and a fixed mmap threshold (every
    allocation of 64 KiB or more is its own mapping, returned to the system when freed, so peak RSS
    follows the live tensors instead of the heap's fragmentation)."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_MMAP_THRESHOLD_": str(args.mmap_threshold), **extra}


def rss_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the peak since the last :func:`reset_peak`) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Return the allocator's free memory to the system and reset the kernel's peak-RSS mark."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def runtime_rss_mb() -> float:
    """The RSS of this process before any model is built, with the modules a step needs imported
    (torch, transformers, peft, the engine's loop): the runtime constant that no sharding divides,
    which peak RSS figures include and GPU figures (``max_memory_allocated``) leave out."""
    import engine.train.ppo_model  # noqa: F401
    import engine.train.ppo_update  # noqa: F401
    import engine.train.sharding  # noqa: F401

    reset_peak()
    return rss_kib("VmRSS") / 1024


def shape_model_dir(name: str) -> Path:
    from engine.bootstrap import cache_root, ensure_tiny_model
    from engine.shapes import get_shape, write_shape_model

    out = cache_root() / f"shape-{name}"
    if not (out / "config.json").is_file():
        import torch

        write_shape_model(get_shape(name), out=out, tokenizer_dir=ensure_tiny_model(), dtype=torch.bfloat16)
    return out


def step_config(args: argparse.Namespace, *, switches: tuple[bool, bool], **fields):
    """The paper preset on ``--shape``'s model: ``switches`` = (gradient checkpointing, chunked
    log-probs of ``--chunk`` tokens), one micro-batch of ``--batch`` rows, one pass of one mini-batch
    (the step measured is one optimiser step: the trust region's passes and mini-batches would make it
    several, and refuse a batch of 1); ``fields`` override."""
    from engine.train.ppo_config import PPOConfig

    ckpt, chunk = switches
    return PPOConfig.preset(
        "paper",
        base_model=str(shape_model_dir(args.shape)),
        dataset="unused.jsonl",
        dtype="float32",  # what "auto" gives on the CPU
        gradient_checkpointing=ckpt,
        logprob_chunk_size=args.chunk if chunk else 0,
        per_device_batch_size=args.batch,
        gradient_accumulation_steps=1,
        num_mini_batches=1,
        ppo_epochs=1,
        target_kl=None,
        **fields,
    )


def build_step(config, args: argparse.Namespace, ctx, *, shard_options: dict | None = None):
    """The actor-critic of ``config`` (sharded when ``ctx`` is), a synthetic experience of ``--batch``
    rows of ``--prompt`` + ``--reply`` tokens, and AdamW; seeded, so every variant gets the same."""
    import torch

    from engine.train.ppo_model import build_actor_critic
    from engine.train.ppo_update import Experience
    from engine.train.sharding import shard_actor_critic

    torch.manual_seed(0)
    ac = build_actor_critic(config)
    if ctx.sharded:
        shard_actor_critic(ac, world_size=ctx.world_size, **(shard_options or {}))
    vocab = ac.model.get_base_model().config.get_text_config().vocab_size
    b, p, r = args.batch, args.prompt, args.reply
    ids = torch.randint(0, vocab, (b, p + r))
    exp = Experience(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        start=p,
        mask=torch.ones(b, r),
        old_logprobs=torch.full((b, r), -12.0),
        old_values=torch.zeros(b, r),
        advantages=torch.randn(b, r),
        returns=torch.randn(b, r),
        kl=None,
    )
    return ac, exp, torch.optim.AdamW(ac.trainable_parameters(), lr=1e-6)


def measure_steps(ac, exp, optimizer, *, config, ctx, steps: int) -> dict:
    """A warm-up ``ppo_update`` (it allocates AdamW's state), then ``steps`` measured ones: the RSS
    before them, the peak RSS during them, what a step adds (the difference) and the mean step time."""
    from engine.train.ppo_update import ppo_update

    def step():
        ppo_update(ac, exp, optimizer, config=config, micro_batch=exp.input_ids.shape[0], ctx=ctx)

    step()
    reset_peak()  # under FSDP also forgets the peak of loading the whole base before sharding it
    before = rss_kib("VmRSS")
    passes = []  # the peak so far when the optimiser step starts: the forward and backward passes'
    optimizer_step = optimizer.step

    def marked_step(*args, **kwargs):
        passes.append(rss_kib("VmHWM"))
        return optimizer_step(*args, **kwargs)

    optimizer.step = marked_step
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    optimizer.step = optimizer_step
    peak = rss_kib("VmHWM")
    return {
        "rss_before_mb": before / 1024,
        "peak_rss_mb": peak / 1024,
        "step_peak_mb": (peak - before) / 1024,
        "passes_peak_mb": max(passes) / 1024 if passes else None,
        "step_s": sum(times) / len(times),
    }
