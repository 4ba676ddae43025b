"""REPO against the PPO baseline at equal budget and equal KL, over training seeds: does REPO's held-out
violation rate fall below PPO's and below the start policy's, at no significant loss of RM score?

From the same start policy (the tiny base; LoRA's B starts at 0) and the same training prompts, one
``engine.train.ppo.train`` run per method and training seed:

- **PPO**: reward = the RM score alone (``PPOConfig``, rules off, no judge);
- **REPO**: reward = R_total = R_model x (1 + E_enh / n), the RM enhanced by the rules and, with
  ``--judge-url``, the judge (``REPOConfig``).

Everything else is the same for both: batch, steps, learning rate, passes and mini-batches (the trust
region), ``kl_coef``, sampling, seed. The RM is trained first on preference pairs of *another* demo world
(``--rm`` takes a trained one) and rides on the policy's base as the ``reward`` adapter in both runs.

Evaluation: held-out prompts of other dialogues (``engine.train.compare.split_prompts``),
``--eval-samples`` replies per prompt sampled at temperature 1 with one fixed sampling seed from the start
policy and from every trained policy, all scored by one reward source (RM + rules [+ judge]): rule
violation rate, judge deduction rate (share of replies the judge deducted from; ``null`` without a
judge), mean RM score and mean R_total. Comparisons are paired by prompt and clustered by prompt, per
seed and pooled over the seeds (``engine.evalstats.pooled_difference``; > 0 = the candidate is better):
improvement, clustered standard error, z and 95% bootstrap interval over prompts.

    python benchmarks/bench_repo_vs_ppo_learning.py [--seeds 0 1 2] [--judge-url URL --judge-model NAME]
        [--rm RM_RUN_DIR] [--set key=value ...] [--quick]

Prints one JSON line per seed and a summary line. The claim (``engine.evalstats.repo_claim``): on every
seed REPO's violation rate is below PPO's and the start policy's, the pooled fall against PPO is beyond
two clustered standard errors, and REPO's RM score is not significantly below PPO's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The comparison's size (docs/engine.md, "REPO against PPO"): the learning demo's batch and prompts,
# with the trust region (two passes of two mini-batches, target_kl) on for both methods.
DEFAULTS: dict = {
    "per_device_batch_size": 32,
    "max_steps": 10,
    "max_prompt_length": 384,
    "save_every": 10_000,
    "probe_every": 0,
    "learning_rate": 1e-3,
    "ppo_epochs": 2,
    "num_mini_batches": 2,
    "target_kl": 0.02,
    "kl_coef": 0.0,
}
QUICK: dict = {"per_device_batch_size": 4, "max_steps": 2, "num_mini_batches": 2, "max_prompt_length": 192}


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _last_turns(rows: list[dict], keep: int = 2) -> list[dict]:
    """The RM's training prompts: the dialogue's last ``keep`` messages (tests/engine/rewards/test_rm_learns.py:
    the demo pairs are told apart by their replies, and full prompts make the run ten times slower)."""
    out = [{**r, "prompt": [m for m in r["prompt"] if m["role"] != "system"][-keep:]} for r in rows]
    return [r for r in out if r["prompt"]]


def train_rm(model: Path, work: Path, *, steps: int, dialogues: int) -> tuple[Path, float]:
    """A tiny RM on preference pairs of demo world 1 (the policy trains and is evaluated on world 0)."""
    from engine.config import RMConfig
    from engine.demo import generate_world
    from engine.demo.datasets import preference_rows
    from engine.rewards.rm import train_reward_model

    world = generate_world(seed=1, n_dialogues=dialogues)
    cut = len(world["dialogues"]) * 3 // 4
    for name, part in (("rm_train", world["dialogues"][:cut]), ("rm_heldout", world["dialogues"][cut:])):
        rows = _last_turns(preference_rows({**world, "dialogues": part}))
        (work / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = RMConfig.preset(
        "tiny", base_model=str(model), dataset=str(work / "rm_train.jsonl"),
        eval_dataset=str(work / "rm_heldout.jsonl"), max_prompt_length=192, max_response_length=64,
        per_device_batch_size=8, learning_rate=1e-3, max_steps=steps, save_every=100_000,
    )  # fmt: skip
    result = train_reward_model(config, run_dir=work / "rm")
    return work / "rm", float(result.get("heldout_accuracy", float("nan")))


def _r(x, digits=4):
    return None if x is None else round(x, digits)


def figures(q: dict) -> dict:
    return {
        "violation_rate": _r(q["violation_rate"]),
        "judge_deduction_rate": _r(q["judge_deduction_rate"]),
        "rm_score": _r(q["r_model"]),
        "r_total": _r(q["r_total"]),
        "rules": q["rules"],
    }


def brief(comparison: dict) -> dict:
    """Per metric: improvement (> 0 = better), clustered s.e., z, 95% interval; per seed when pooled."""
    out = {}
    for name, c in comparison.items():
        if c is None:
            out[name] = "n/a"
            continue
        out[name] = {"improvement": _r(c["improvement"], 5), "se": _r(c["se"], 5), "z": _r(c["z"], 2),
                     "ci95": [_r(x, 5) for x in c["ci95"]]}  # fmt: skip
        if c["seeds"] > 1:
            out[name]["per_seed"] = [_r(x, 5) for x in c["per_seed"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-samples", type=int, default=8, help="sampled replies per held-out prompt")
    parser.add_argument("--eval-seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (one process)")
    parser.add_argument("--rm", help="a trained RM run dir on the same tiny base (default: train one)")
    parser.add_argument("--rm-steps", type=int, default=60)
    parser.add_argument("--judge-url", help="a judge endpoint (the demo judge); without it the judge column is n/a")
    parser.add_argument("--judge-model", default="judge", help="the judge's served model name")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for both methods")
    parser.add_argument("--quick", action="store_true", help="make bench's size: one seed, 2 steps of 4 prompts")
    parser.add_argument("--work", help="working directory (default: a fresh temporary one)")
    args = parser.parse_args()

    import torch

    from engine.bootstrap import ensure_tiny_model
    from engine.config import JudgeConfig, RewardSourcesConfig
    from engine.evalstats import learned, repo_claim
    from engine.rewards import RepoReward
    from engine.train.compare import compare, method_runs, split_prompts
    from engine.train.ppo_config import PPOConfig, REPOConfig
    from engine.train.ppo_data import read_prompt_rows

    torch.set_num_threads(args.threads)
    build = int(os.environ.get("PARLEY_TINY_SEED", "0"))
    if args.quick:
        args.seeds, args.eval_samples, args.rm_steps = args.seeds[:1], min(args.eval_samples, 2), 4
    size = {**DEFAULTS, **(QUICK if args.quick else {})}
    size.update({key: parse_value(value) for key, value in (item.split("=", 1) for item in args.set)})
    model = ensure_tiny_model(seed=build)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-repo-ppo-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.rm:
        rm, rm_accuracy = Path(args.rm), None
    else:
        rm, rm_accuracy = train_rm(model, work, steps=args.rm_steps, dialogues=40 if args.quick else 180)
    judge = None
    if args.judge_url:
        judge = JudgeConfig(base_url=args.judge_url, model=args.judge_model, concurrency=16, timeout=120.0)
    train_path, heldout_path = split_prompts(work / "data")
    rows = read_prompt_rows([str(heldout_path)])
    if args.quick:
        rows = rows[:6]
    common = {"base_model": str(model), "dataset": str(train_path), **size}
    configs = {
        "ppo": lambda seed: PPOConfig.preset(
            "tiny", **common, seed=seed, rewards=RewardSourcesConfig(rm_path=str(rm), use_rules=False)
        ),
        "repo": lambda seed: REPOConfig.preset(
            "tiny", **common, seed=seed, rewards=RewardSourcesConfig(rm_path=str(rm), judge=judge)
        ),
    }
    eval_rewards = RepoReward.from_config(RewardSourcesConfig(rm_path=str(rm), judge=judge))
    print(
        f"# model {model} (build {build}); RM {rm} (held-out pairwise accuracy {rm_accuracy}); judge "
        f"{args.judge_url or 'n/a'}; size {size}; {len(rows)} held-out prompts x {args.eval_samples}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )

    def on_seed(run: dict, start: dict) -> None:
        ppo, repo = run["ppo"], run["repo"]
        line = {
            "seed": run["seed"],
            "start": figures(start),
            "ppo": figures(ppo["quality"]),
            "repo": figures(repo["quality"]),
            "repo_vs_ppo": brief(compare([ppo["quality"]], [repo["quality"]])),
            "repo_vs_start": brief(compare([start], [repo["quality"]])),
            "ppo_vs_start": brief(compare([start], [ppo["quality"]])),
        }
        for name in ("ppo", "repo"):
            metrics = run[name]["result"]["metrics"]
            line[f"{name}_train"] = {
                "kl_to_base": _r(metrics.get("kl/to_initial")),
                "clip_fraction": _r(metrics.get("ppo/clip_fraction")),
                "train_s": round(run[name]["train_s"], 1),
            }
        print(json.dumps(line), flush=True)

    out = method_runs(
        configs, rows, work, seeds=args.seeds, eval_rewards=eval_rewards, eval_samples=args.eval_samples,
        eval_seed=args.eval_seed, on_seed=on_seed,
    )  # fmt: skip
    start, runs = out["start"], out["runs"]
    ppo = [r["ppo"]["quality"] for r in runs]
    repo = [r["repo"]["quality"] for r in runs]
    vs_ppo, vs_start, ppo_vs_start = (
        compare(ppo, repo),
        compare([start] * len(runs), repo),
        compare([start] * len(runs), ppo),
    )
    claim = repo_claim(vs_ppo["violation_rate"], vs_start["violation_rate"], vs_ppo["rm_score"])
    summary = {
        "summary": True,
        "build": build,
        "seeds": args.seeds,
        "rm_heldout_accuracy": rm_accuracy,
        "judge": args.judge_url or "n/a",
        "start": figures(start),
        "repo_vs_ppo": brief(vs_ppo),
        "repo_vs_start": brief(vs_start),
        "ppo_vs_start": brief(ppo_vs_start),
        "repo_learned_violation": learned(vs_start["violation_rate"]),
        "claim": claim,
        "size": {**size, "heldout_prompts": len(rows), "eval_samples": args.eval_samples},
        "wall_s": round(time.perf_counter() - t0, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
