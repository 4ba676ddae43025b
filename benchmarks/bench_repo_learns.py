"""Does a short REPO run learn? Held-out violation rate and mean R_total after / before.

The baseline is the starting policy (the tiny base model; LoRA's B starts at 0), measured in the
same run: sampled replies to held-out demo prompts (other dialogues than the training prompts),
``--eval-samples`` per prompt with a fixed sampling seed, scored by the real ``RepoReward`` (default
rules, R_model = 1 without an RM, so R_total = 1 + E_func / 100). The run in between is
``engine.train.ppo.train`` with the REPO config the slow test uses (tests/engine/ppo_support.py).

    python benchmarks/bench_repo_learns.py [--seeds 0 1 2] [--set key=value ...]

Target: violation rate after / before well below 1 and mean R_total up, each by more than twice the
standard error of the difference, on every seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-samples", type=int, default=8, help="sampled replies per held-out prompt")
    parser.add_argument("--eval-seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (one process)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides (JSON values)")
    parser.add_argument("--show", type=int, default=0, help="print this many replies before and after")
    args = parser.parse_args()

    import torch

    from engine.bootstrap import ensure_tiny_model
    from tests.engine.ppo_support import learning_run

    torch.set_num_threads(args.threads)
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {key: parse_value(value) for key, value in overrides.items()}
    model = ensure_tiny_model()
    print(f"model: {model}  threads: {args.threads}  overrides: {overrides or 'none'}")
    for seed in args.seeds:
        work = Path(tempfile.mkdtemp(prefix=f"bench-learns-s{seed}-"))
        t0 = time.perf_counter()
        run = learning_run(
            model, work, seed=seed, eval_samples=args.eval_samples, eval_seed=args.eval_seed, **overrides
        )
        wall = time.perf_counter() - t0
        if seed == args.seeds[0]:
            print(describe(run, args.eval_samples))
        report(seed, run, wall=wall, work=work, show=args.show)
        sys.stdout.flush()


def describe(run: dict, eval_samples: int) -> str:
    c = run["config"]
    return (
        f"REPO: batch {c.per_device_batch_size * c.gradient_accumulation_steps} x {c.max_steps} steps, "
        f"lr {c.learning_rate}, lam {c.lam}, replies <= {c.max_response_length} tokens, prompts <= "
        f"{c.max_prompt_length} tokens; {run['train_rows']} training prompts; {run['heldout_rows']} held-out "
        f"prompts x {eval_samples} samples (baseline: the starting policy, same sampling seed)"
    )


def report(seed: int, run: dict, *, wall: float, work: Path, show: int) -> None:
    b, a = run["before"], run["after"]
    for key, se, label, fmt in (
        ("violation_rate", "violation_se", "violation rate", ".3f"),
        ("r_total", "r_total_se", "mean R_total  ", ".4f"),
    ):
        change = (a[key] - b[key]) / math.hypot(b[se], a[se])
        print(
            f"seed {seed}: {label} {b[key]:{fmt}} ± {b[se]:{fmt}} -> {a[key]:{fmt}} ± {a[se]:{fmt}}  "
            f"after/before {a[key] / max(b[key], 1e-9):.3f}  change {change:+.1f} s.e."
        )
    kl = run["result"]["metrics"].get("kl/to_initial", float("nan"))
    print(f"        rule hits before {b['rules']}, after {a['rules']}")
    print(f"        KL to the base at the last step {kl:.2f}; train {run['train_s']:.0f} s, all {wall:.0f} s; {work}")
    for label, quality in (("before", b), ("after", a)):
        for reply in quality["replies"][:show]:
            print(f"   [{label}] {reply!r}")


if __name__ == "__main__":
    main()
