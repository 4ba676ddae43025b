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
  baseline's peak per rank), ``shard_actor_critic``'s defaults (whole layers; no prefetch on the CPU);
- ``fsdp2+ckpt+prefetch``, ``fsdp2+ckpt+sublayer``, ``fsdp2+ckpt+sublayer+prefetch``,
  ``fsdp2+ckpt+linear``: the same with FSDP2's prefetch on (torch's defaults) and / or finer units
  (``fsdp_prefetch``, ``fsdp_unit``; docs/engine.md, "Sharding").

Memory per rank: the peak RSS of the rank's process during the measured steps (VmHWM reset after the
warm-up, the glibc mmap threshold fixed at 64 KiB as in ``bench_memory.py``): the base or its shard,
the adapters, AdamW's state and the step's activations; the largest rank's figure. Beside it, the
peak above the runtime: the same peak minus the rank's RSS before the model is built (torch,
transformers and the engine imported, the process group up; ~0.7 GB that no sharding divides), the
figure a GPU's ``max_memory_allocated`` would give; its ratio is computed the same way. Each variant's
JSON line also has the peak before the optimiser step (that of the forward and backward passes).
(Every rank loads
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
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _ppo_step as ppo_step  # noqa: E402
from engine.serve import free_port  # noqa: E402

VARIANTS = {  # name: (ranks, parallel, checkpointing and chunked log-probs, shard_actor_critic's options)
    "ddp1": (1, "ddp", False, {}),
    "ddp2": (2, "ddp", False, {}),
    "ddp2+ckpt": (2, "ddp", True, {}),
    "fsdp2": (2, "fsdp", False, {}),
    "fsdp2+ckpt": (2, "fsdp", True, {}),
    "fsdp2+ckpt+prefetch": (2, "fsdp", True, {"prefetch": True}),
    "fsdp2+ckpt+sublayer": (2, "fsdp", True, {"unit": "sublayer"}),
    "fsdp2+ckpt+sublayer+prefetch": (2, "fsdp", True, {"unit": "sublayer", "prefetch": True}),
    "fsdp2+ckpt+linear": (2, "fsdp", True, {"unit": "linear"}),
}


def run_rank(args: argparse.Namespace) -> dict:
    import torch

    from engine.train.ppo_dist import gather_objects, init_distributed, shutdown_distributed

    torch.set_num_threads(args.threads)
    _, parallel, switches, shard_options = VARIANTS[args.variant]
    ctx = init_distributed(parallel=parallel)
    runtime = ppo_step.runtime_rss_mb()
    config = ppo_step.step_config(args, switches=(switches, switches), parallel=parallel)
    ac, exp, optimizer = ppo_step.build_step(config, args, ctx, shard_options=shard_options)
    measured = ppo_step.measure_steps(ac, exp, optimizer, config=config, ctx=ctx, steps=args.steps)
    measured["above_runtime_mb"] = measured["peak_rss_mb"] - runtime
    everyone = gather_objects({"rank": ctx.rank, "runtime_rss_mb": runtime, **measured}, ctx)
    shutdown_distributed(ctx)
    return {
        "variant": args.variant,
        "ranks": len(everyone),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in everyone),
        "rss_before_mb": max(r["rss_before_mb"] for r in everyone),
        "runtime_rss_mb": max(r["runtime_rss_mb"] for r in everyone),
        "above_runtime_mb": max(r["above_runtime_mb"] for r in everyone),
        "passes_peak_mb": max(r["passes_peak_mb"] for r in everyone),
        "step_s": max(r["step_s"] for r in everyone),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ppo_step.add_step_arguments(parser, batch=1, prompt=32, reply=32, steps=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in the torchrun ranks
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = run_rank(args)
        if int(os.environ.get("RANK", "0")) == 0:
            Path(args.out).write_text(json.dumps(result), encoding="utf-8")
        return

    ppo_step.shape_model_dir(args.shape)  # write it once, outside the measured processes
    load = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            ranks = VARIANTS[name][0]
            out = Path(tmp) / f"{name}.json"
            cmd = [
                sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={ranks}",
                f"--master_port={free_port()}", __file__, "--variant", name, "--out", str(out),
                *ppo_step.child_command(args),
            ]  # fmt: skip
            env = ppo_step.child_env(args, OMP_NUM_THREADS=str(args.threads), PARLEY_DEVICE="cpu")
            subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            results[name] = json.loads(out.read_text(encoding="utf-8"))
            print(json.dumps(results[name]), flush=True)
    base = results.get("ddp2") or next(iter(results.values()))
    print(
        f"\n{args.shape}, {args.batch} row(s) per rank x ({args.prompt} prompt + {args.reply} reply) tokens, "
        f"LoRA r 64, chunk {args.chunk}, {args.threads} thread(s) per rank, mean of {args.steps} step(s); "
        f"load average {os.getloadavg()[0]:.1f} (at the start {load:.1f})"
    )
    print(
        "| variant | ranks | peak RSS per rank (MB) | / ddp2 | runtime RSS (MB) | peak above the runtime (MB) "
        "| / ddp2 | RSS before the steps (MB) | step (s) | / ddp2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['ranks']} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] / base['peak_rss_mb']:.2f} | "
            f"{r['runtime_rss_mb']:.0f} | {r['above_runtime_mb']:.0f} | "
            f"{r['above_runtime_mb'] / base['above_runtime_mb']:.2f} | "
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
