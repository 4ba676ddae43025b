"""Peak memory of the shared-base design over one bare model, beside three separate copies.

The shared-base design (docs/engine.md) holds one frozen base with three LoRA adapters switched per
forward pass: ``policy``, ``value`` (+ a scalar head) and ``reward`` (+ a score head). The naive
design holds three full models (policy, critic, reward model). Each variant is built in a fresh
subprocess and measured two ways:

- parameters + buffers: the bytes of every distinct tensor the model(s) hold (exact, no noise);
- peak RSS over the same process just before the build (includes allocator and runtime overhead).

Target: shared / bare <= 1.5 on the parameters-and-buffers measure.

    python benchmarks/bench_shared_base_memory.py [--model DIR] [--lora-r 64]

With no ``--model`` it uses the tiny model (built on first use). On the tiny model the adapters are a
large share of the base (its layers are narrow), so the figure is a worst case: the ratio falls
toward 1 as the base grows (``--synthetic-hidden 1024`` builds a wider random Qwen3 to show it).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("bare", "shared", "three_copies")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _tensor_bytes(modules) -> int:
    seen, total = set(), 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            key = (tensor.untyped_storage().data_ptr(), tensor.dtype)
            if key not in seen:
                seen.add(key)
                total += tensor.untyped_storage().nbytes()
    return total


def _load(model_dir: str, synthetic_hidden: int | None):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if synthetic_hidden:
        config = AutoConfig.from_pretrained(model_dir)
        config.hidden_size, config.intermediate_size = synthetic_hidden, 3 * synthetic_hidden
        config.num_attention_heads = config.num_key_value_heads = synthetic_hidden // config.head_dim
        return AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)


def measure(variant: str, model_dir: str, lora_r: int, synthetic_hidden: int | None) -> dict:
    """Build one variant in this process and return its memory figures (run in a subprocess)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.set_num_threads(1)
    before = _rss_mb()
    lora = LoraConfig(r=lora_r, lora_alpha=lora_r, target_modules="all-linear", task_type="CAUSAL_LM")
    if variant == "bare":
        modules = [_load(model_dir, synthetic_hidden)]
    elif variant == "shared":
        base = _load(model_dir, synthetic_hidden)
        model = get_peft_model(base, lora, adapter_name="policy")
        model.add_adapter("value", lora)
        model.add_adapter("reward", lora)
        hidden = base.config.hidden_size
        modules = [model, torch.nn.Linear(hidden, 1), torch.nn.Linear(hidden, 1, bias=False)]
    else:  # three full models, each with its own adapter and head where it has one
        modules = []
        for head in (None, "value", "score"):
            base = _load(model_dir, synthetic_hidden)
            modules.append(get_peft_model(base, lora))
            if head:
                modules.append(torch.nn.Linear(base.config.hidden_size, 1))
    return {"variant": variant, "tensor_mb": _tensor_bytes(modules) / 2**20, "rss_mb": _rss_mb() - before}


def run_variant(variant: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--model", args.model, "--lora-r", str(args.lora_r)]
    if args.synthetic_hidden:
        command += ["--synthetic-hidden", str(args.synthetic_hidden)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT,
                          env={"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="HF model dir (default: the tiny model)")
    parser.add_argument("--lora-r", type=int, default=64, help="LoRA rank (the paper: 64)")
    parser.add_argument("--synthetic-hidden", type=int, help="a random Qwen3 of this width, same depth")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        sys.path.insert(0, str(ROOT))
        from engine.bootstrap import ensure_tiny_model

        args.model = str(ensure_tiny_model())
    if args.child:
        print(json.dumps(measure(args.child, args.model, args.lora_r, args.synthetic_hidden)))
        return
    results = {v: run_variant(v, args) for v in VARIANTS}
    bare = results["bare"]
    print(f"model: {args.model}  lora_r={args.lora_r}  synthetic_hidden={args.synthetic_hidden}")
    print(f"{'variant':<14}{'params+buffers MB':>20}{'ratio':>8}{'peak RSS MB':>14}{'ratio':>8}")
    for variant, r in results.items():
        print(f"{variant:<14}{r['tensor_mb']:>20.1f}{r['tensor_mb'] / bare['tensor_mb']:>8.2f}"
              f"{r['rss_mb']:>14.1f}{r['rss_mb'] / bare['rss_mb']:>8.2f}")  # fmt: skip
    ratio = results["shared"]["tensor_mb"] / bare["tensor_mb"]
    verdict = "meets" if ratio <= 1.5 else "misses"
    print(f"shared-base / bare = {ratio:.2f} ({verdict} the 1.5 target); three copies / bare = "
          f"{results['three_copies']['tensor_mb'] / bare['tensor_mb']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
