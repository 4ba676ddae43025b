"""Does a short REPO run learn, over several training seeds? Held-out violation rate and R_total.

The baseline is the start policy (the tiny base model; LoRA's B starts at 0), measured in the same
run: sampled replies to held-out demo prompts (other dialogues than the training prompts),
``--eval-samples`` per prompt with one fixed sampling seed, scored by the real ``RepoReward`` (default
rules, R_model = 1 without an RM, so R_total = 1 + E_func / 100). In between, one
``engine.train.ppo.train`` run per training seed with the REPO config the slow test uses
(``engine.train.compare.learning_runs``): same start policy, same prompts.

    python benchmarks/bench_repo_learns.py [--seeds 0 1 2] [--set key=value ...]

Prints one JSON line per seed and a summary line: the improvement pooled over the seeds, paired by
prompt and clustered by prompt (the replies to one prompt are not independent), its clustered
standard error, z and 95% bootstrap interval over prompts, and each seed's improvement
(``engine.evalstats``). Target (the slow test's criterion): pooled improvement > 2
clustered s.e. and the median seed improved, for the violation rate and for R_total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.train.compare import add_run_arguments, run_overrides  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    args = parser.parse_args()

    import torch

    from engine.bootstrap import cached_path, ensure_tiny_model
    from engine.evalstats import learned
    from engine.train.compare import learning_runs
    from tests.fixtures.engine import TINY_SEED

    torch.set_num_threads(args.threads)
    overrides = run_overrides(args)
    model = ensure_tiny_model(seed=TINY_SEED)
    print(f"# model: {model} (build seed {TINY_SEED}, {cached_path(seed=TINY_SEED)})  overrides: {overrides or 'none'}")
    work = Path(tempfile.mkdtemp(prefix="bench-learns-"))
    t0 = time.perf_counter()

    def on_seed(run: dict, before: dict) -> None:
        a = run["after"]
        line = {
            "seed": run["seed"],
            "violation_before": round(before["violation_rate"], 4),
            "violation_after": round(a["violation_rate"], 4),
            "r_total_before": round(before["r_total"], 5),
            "r_total_after": round(a["r_total"], 5),
            "rules_before": before["rules"],
            "rules_after": a["rules"],
            "kl_to_base": round(run["result"]["metrics"].get("kl/to_initial", float("nan")), 3),
            "clip_fraction": round(run["result"]["metrics"].get("ppo/clip_fraction", float("nan")), 4),
            "train_s": round(run["train_s"], 1),
        }
        print(json.dumps(line), flush=True)

    out = learning_runs(
        model, work, seeds=args.seeds, eval_samples=args.eval_samples, eval_seed=args.eval_seed,
        on_seed=on_seed, **overrides,
    )  # fmt: skip
    summary = {"summary": True, "build_seed": TINY_SEED, "wall_s": round(time.perf_counter() - t0, 1)}
    for key, pooled in out["pooled"].items():
        summary[key] = {
            "improvement": round(pooled["improvement"], 5),
            "clustered_se": round(pooled["se"], 5),
            "z": round(pooled["z"], 2),
            "ci95": [round(x, 5) for x in pooled["ci95"]],
            "per_seed": [round(x, 5) for x in pooled["per_seed"]],
            "learned": learned(pooled),
        }
    c = out["config"]
    summary["demo"] = (
        f"batch {c.per_device_batch_size} x {c.max_steps} steps, lr {c.learning_rate}, epochs {c.ppo_epochs} x "
        f"mini-batches {c.num_mini_batches}, prompts <= {c.max_prompt_length}, replies <= {c.max_response_length}; "
        f"{out['train_rows']} training prompts, {out['heldout_rows']} held-out x {args.eval_samples} samples"
    )
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
