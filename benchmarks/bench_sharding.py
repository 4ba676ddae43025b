"""Peak memory per rank and step time of the PPO update with ``parallel: fsdp`` (FSDP2 over the shared
base, the adapters and the value head) against the replicated loop (``ddp``), on a realistic shape,
measured in the same run.

Each variant is one ``torchrun`` (gloo on the CPU) of this file with ``--variant``; each rank builds
the random model of ``--shape`` (``engine/shapes.py``, Qwen3-0.6B by default, the same files as
``bench_memory.py``), LoRA r 64 on all linear layers (policy and value adapters, value head), AdamW,
and runs the loop's own ``ppo_update`` over a synthetic experience of ``--batch`` rows per rank of
``--prompt`` + ``--reply`` tokens: a warm-up step (AdamW's state), then ``--steps`` measured steps.

Variants (ranks, parallel, gradient checkpointing + chunked log-probs):

- ``ddp1``: one process, replicated, both memory switches off (the loop before them);
- ``ddp2``: two ranks, replicated, switches off: the baseline of the ratios;
- ``ddp2+ckpt``: two ranks, replicated, checkpointing and chunked log-probs on;
- ``fsdp2``: two ranks, sharded, switches off;
- ``fsdp2+ckpt``: two ranks, sharded, checkpointing and chunked log-probs on (the goal: ≤ 0.5 x the
  baseline's peak per rank).

Memory per rank: the peak RSS of the rank's process during the measured steps (VmHWM reset after the
warm-up, the glibc mmap threshold fixed at 64 KiB as in ``bench_memory.py``): the base or its shard,
the adapters, AdamW's state and the step's activations; the largest rank's figure. (Every rank loads
the whole base on the host before sharding it: a one-time host-memory peak, not measured here.)
Scaling: ``ddp1``'s step time over ``ddp2``'s (the same rows per rank, twice the rows in all: 1.0 =
perfect data-parallel scaling). Linux only.

    nice -n 19 python benchmarks/bench_sharding.py [--shape qwen3-0.6b] [--batch 1] [--prompt 32]
        [--reply 32] [--chunk 16] [--steps 1] [--variants ddp1,ddp2,ddp2+ckpt,fsdp2,fsdp2+ckpt]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_memory import _reset_peak, _rss_kib, shape_model_dir  # noqa: E402

VARIANTS = {  # name: (ranks, parallel, checkpointing and chunked log-probs)
    "ddp1": (1, "ddp", False),
    "ddp2": (2, "ddp", False),
    "ddp2+ckpt": (2, "ddp", True),
    "fsdp2": (2, "fsdp", False),
    "fsdp2+ckpt": (2, "fsdp", True),
}


def run_rank(args: argparse.Namespace) -> dict:
    import torch

    from engine.train.ppo_config import PPOConfig
    from engine.train.ppo_dist import gather_objects, init_distributed, shutdown_distributed
    from engine.train.ppo_model import build_actor_critic
    from engine.train.ppo_update import Experience, ppo_update
    from engine.train.sharding import shard_actor_critic

    torch.set_num_threads(args.threads)
    _, parallel, switches = VARIANTS[args.variant]
    ctx = init_distributed(parallel=parallel)
    config = PPOConfig.preset(
        "paper",
        base_model=str(shape_model_dir(args.shape)),
        dataset="unused.jsonl",
        dtype="float32",  # what "auto" gives on the CPU
        gradient_checkpointing=switches,
        logprob_chunk_size=args.chunk if switches else 0,
        per_device_batch_size=args.batch,
        gradient_accumulation_steps=1,
        num_mini_batches=1,
        ppo_epochs=1,
        target_kl=None,
        parallel=parallel,
    )
    torch.manual_seed(0)
    ac = build_actor_critic(config)
    if ctx.sharded:
        shard_actor_critic(ac, world_size=ctx.world_size)
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
    optimizer = torch.optim.AdamW(ac.trainable_parameters(), lr=1e-6)
    ppo_update(ac, exp, optimizer, config=config, micro_batch=b, ctx=ctx)  # warm-up: AdamW state
    _reset_peak()  # the peak of loading the whole base before sharding it is the host's, once
    before = _rss_kib("VmRSS")
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        ppo_update(ac, exp, optimizer, config=config, micro_batch=b, ctx=ctx)
        times.append(time.perf_counter() - t0)
    peak = _rss_kib("VmHWM")
    out = {
        "rank": ctx.rank,
        "rss_before_mb": before / 1024,
        "peak_rss_mb": peak / 1024,
        "step_s": sum(times) / len(times),
    }
    everyone = gather_objects(out, ctx)
    shutdown_distributed(ctx)
    return {
        "variant": args.variant,
        "ranks": len(everyone),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in everyone),
        "rss_before_mb": max(r["rss_before_mb"] for r in everyone),
        "step_s": max(r["step_s"] for r in everyone),
    }


OPTIONS = ("shape", "batch", "prompt", "reply", "chunk", "steps", "threads")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="qwen3-0.6b")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--reply", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--mmap-threshold", type=int, default=65536, help="glibc's, for the measured processes")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in the torchrun ranks
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = run_rank(args)
        if int(os.environ.get("RANK", "0")) == 0:
            Path(args.out).write_text(json.dumps(result), encoding="utf-8")
        return

    shape_model_dir(args.shape)  # write it once, outside the measured processes
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            ranks = VARIANTS[name][0]
            out = Path(tmp) / f"{name}.json"
            cmd = [
                sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}",
                f"--master_port={_free_port()}", __file__, "--variant", name, "--out", str(out),
            ] + [f"--{k}={getattr(args, k)}" for k in OPTIONS]  # fmt: skip
            env = {
                **os.environ, "PYTHONPATH": str(ROOT), "MALLOC_MMAP_THRESHOLD_": str(args.mmap_threshold),
                "OMP_NUM_THREADS": str(args.threads), "PARLEY_DEVICE": "cpu",
            }  # fmt: skip
            subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            results[name] = json.loads(out.read_text(encoding="utf-8"))
            print(json.dumps(results[name]), flush=True)
    base = results.get("ddp2") or next(iter(results.values()))
    print(
        f"\n{args.shape}, {args.batch} row(s) per rank x ({args.prompt} prompt + {args.reply} reply) tokens, "
        f"LoRA r 64, chunk {args.chunk}, {args.threads} thread(s) per rank, mean of {args.steps} step(s); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("| variant | ranks | peak RSS per rank (MB) | / ddp2 | RSS before the steps (MB) | step (s) | / ddp2 |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['ranks']} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / base['peak_rss_mb']:.2f} | "
            f"{r['rss_before_mb']:.0f} | {r['step_s']:.2f} | {r['step_s'] / base['step_s']:.2f} |"
        )
    if "ddp1" in results and "ddp2" in results:
        scaling = results["ddp1"]["step_s"] / results["ddp2"]["step_s"]
        print(f"two-rank scaling efficiency (ddp1 step / ddp2 step): {scaling:.2f}")
    if "fsdp2" in results and "fsdp2+ckpt" in results:
        cost = results["fsdp2+ckpt"]["step_s"] / results["fsdp2"]["step_s"]
        print(f"checkpointing + chunking step-time cost under FSDP: {cost:.2f}x")


if __name__ == "__main__":
    main()
