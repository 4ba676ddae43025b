"""Peak memory and time of one PPO update step on a realistic shape: gradient checkpointing and
chunked log-probs on and off, against the loop as it was before them, measured in the same run.

Each variant runs in a fresh subprocess on a random model with a real architecture's dimensions
(``engine/shapes.py``, Qwen3-0.6B by default; written once into the cache), LoRA r 64 on all linear
layers (policy and value adapters, value head), AdamW. A step is the loop's own ``ppo_update`` over a
synthetic experience of ``--batch`` rows of ``--prompt`` + ``--reply`` tokens (one micro-batch):
policy forward + backward, critic forward + backward, clip, optimiser step.

- ``before``: the loop before engine/train/memory.py (eval mode, the whole (B, T, V) logits, their
  log-softmax and the entropy's softmax in the graph), reproduced by swapping the log-prob function
  and the update mode back in;
- ``plain``: the current loop with both switches off (only the entropy is out of the graph);
- ``ckpt``, ``chunk``, ``ckpt+chunk``: checkpointing, chunked log-probs, both (the paper preset).

Memory: the measured processes run with glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (tensors of 64 KiB
or more are their own mappings, unmapped when freed, so RSS follows the live tensors rather than the
heap's fragmentation); after a warm-up step (which allocates AdamW's state) the allocator's free memory is returned
to the system (``malloc_trim``) and the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``);
"step peak" is the peak RSS during the measured steps minus the RSS just before them, i.e. what a
step adds on top of the model, adapters and optimiser. Linux only.

    nice -n 19 python benchmarks/bench_memory.py [--shape qwen3-0.6b] [--batch 2] [--prompt 64]
        [--reply 64] [--chunk 16] [--steps 2] [--variants before,plain,ckpt,chunk,ckpt+chunk]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _ppo_step as ppo_step  # noqa: E402

VARIANTS = {  # name: (gradient_checkpointing, chunked log-probs, the old code path)
    "before": (False, False, True),
    "plain": (False, False, False),
    "ckpt": (True, False, False),
    "chunk": (False, True, False),
    "ckpt+chunk": (True, True, False),
}


@contextmanager
def _old_code_path():
    """Put the update's log-prob function and mode back as they were before engine/train/memory.py."""
    from engine.rl import entropy_from_logits, logprobs_from_logits
    from engine.train import ppo_update
    from engine.train.ppo_model import POLICY, policy_logits

    def old_logprobs(ac, ids, att, tokens, *, start, temperature=1.0, adapter=POLICY, entropy=False, **_):
        logits = policy_logits(ac, ids, att, start=start, temperature=temperature, adapter=adapter)
        return logprobs_from_logits(logits, tokens), entropy_from_logits(logits) if entropy else None

    @contextmanager
    def eval_mode(ac, **_):
        yield

    saved = ppo_update.reply_logprobs, ppo_update.update_mode
    ppo_update.reply_logprobs, ppo_update.update_mode = old_logprobs, eval_mode
    try:
        yield
    finally:
        ppo_update.reply_logprobs, ppo_update.update_mode = saved


def run_variant(args: argparse.Namespace) -> dict:
    import torch

    from engine.train.ppo_dist import Distributed

    torch.set_num_threads(args.threads)
    ckpt, chunk, old = VARIANTS[args.variant]
    config = ppo_step.step_config(args, switches=(ckpt, chunk))
    ac, exp, optimizer = ppo_step.build_step(config, args, Distributed())
    with _old_code_path() if old else _nothing():
        measured = ppo_step.measure_steps(ac, exp, optimizer, config=config, ctx=Distributed(), steps=args.steps)
    return {"variant": args.variant, **measured}


@contextmanager
def _nothing():
    yield


def model_prediction(args: argparse.Namespace) -> dict:
    """The memory model's figures for the same run (float32 base on the CPU, no reward adapter)."""
    from engine.shapes import estimate, get_shape

    shape = get_shape(args.shape)
    common = {
        "lora_rank": 64,
        "reward_adapter": False,
        "micro_batch": args.batch,
        "seq_tokens": args.prompt + args.reply,
        "reply_tokens": args.reply,
        "base_bytes": 4,
        "optimizer_temporaries": 0,  # AdamW on CPU tensors steps tensor by tensor
    }
    # The RSS the steps are measured from holds the previous step's gradients, which the step's
    # zero_grad frees before its forward passes: the forward/backward phase counts from below them.
    grads = 2 * shape.lora_params(64) * 4
    out = {}
    for name, (ckpt, chunk, old) in VARIANTS.items():
        chunk_tokens = args.chunk if chunk else 0
        est = estimate(shape, checkpointing=ckpt, chunk_tokens=chunk_tokens, logit_copies=6 if old else 5, **common)
        step = max(est.activations + est.logits - grads, est.optimizer_step)
        out[name] = {"static_mb": (est.base + est.adapters) / 2**20, "step_mb": step / 2**20}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ppo_step.add_step_arguments(parser, batch=2, prompt=64, reply=64, steps=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in the child process
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args)))
        return

    ppo_step.shape_model_dir(args.shape)  # write it once, outside the measured processes
    results = {}
    for name in args.variants.split(","):
        cmd = [sys.executable, __file__, "--variant", name, *ppo_step.child_command(args)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=ppo_step.child_env(args), check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(results[name]), flush=True)
    predicted = model_prediction(args)
    base = results.get("before") or next(iter(results.values()))
    print(
        f"\n{args.shape}, micro-batch {args.batch} x ({args.prompt} prompt + {args.reply} reply) tokens, "
        f"LoRA r 64, chunk {args.chunk}, {args.threads} thread(s), mean of {args.steps} steps"
    )
    print("| variant | step peak (MB) | / before | model (MB) | peak RSS (MB) | step (s) | / before |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['step_peak_mb']:.0f} | {r['step_peak_mb'] / base['step_peak_mb']:.2f} | "
            f"{predicted[name]['step_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['step_s']:.2f} | "
            f"{r['step_s'] / base['step_s']:.2f} |"
        )
    print(f"model: base + adapters + AdamW = {predicted['plain']['static_mb']:.0f} MB (RSS before the steps: "
          f"{base['rss_before_mb']:.0f} MB, which adds the Python/torch runtime)")  # fmt: skip


if __name__ == "__main__":
    main()
