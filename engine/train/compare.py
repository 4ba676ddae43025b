"""Does a policy trained by one method do better than the start policy, or than another method's?

The harness of the learning benchmarks (``benchmarks/bench_repo_learns.py``,
``benchmarks/bench_repo_vs_ppo_learning.py``) and of the multi-seed learning test: held-out prompts
from *other dialogues* than the training prompts (:func:`split_prompts`), fresh replies sampled with
one fixed sampling seed from each policy (:func:`sampled_quality`: ``samples`` per prompt, laid out
``prompts * samples``), scored by one reward source, and the comparisons of ``engine.evalstats``
(paired and clustered by prompt, pooled over training seeds).

:func:`learning_runs` is the REPO-only demo (the start policy against REPO runs on several seeds);
:func:`method_runs` trains several configs per seed from the same start policy and the same prompts
and evaluates them all with the same reward source and sampling seed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from engine.demo.datasets import prompt_rows
from engine.demo.world import generate_world
from engine.evalstats import pooled_difference, pooled_improvement

# The learning demo (docs/engine.md, "Does it learn?"): the tiny preset with 32 rollouts per update and
# prompts that keep the system message with the case (the oldest turns are dropped first), so that ten
# REPO steps per seed fit about a minute and a half on two quiet CPU cores.
LEARNING_DEMO: dict = {
    "per_device_batch_size": 32,
    "max_steps": 10,
    "max_prompt_length": 384,
    "save_every": 10,
    "probe_every": 0,
}
LEARNING_SEEDS = (0, 1, 2)


def split_prompts(
    directory: Path, *, n_dialogues: int = 32, heldout_dialogues: int = 6, seed: int = 0
) -> tuple[Path, Path]:
    """Train and held-out prompt files from *different dialogues* of the demo world (the last
    ``heldout_dialogues``): no held-out prompt, nor any turn of its conversation, is trained on."""
    world = generate_world(seed=seed, n_dialogues=n_dialogues)
    cut = len(world["dialogues"]) - heldout_dialogues
    parts = {
        "train.jsonl": prompt_rows({**world, "dialogues": world["dialogues"][:cut]}),
        "heldout.jsonl": prompt_rows({**world, "dialogues": world["dialogues"][cut:]}),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in parts.items():
        (directory / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory / "train.jsonl", directory / "heldout.jsonl"


def sampled_quality(
    ac, rows: list[dict], *, rewards, samples: int, max_new_tokens: int, seed: int, max_prompt_length: int = 384
) -> dict:
    """``samples`` sampled replies per held-out prompt from ``ac``'s policy adapter, scored by
    ``rewards``: per reply R_total, R_model, E_judge, E_func, whether a rule fired (``violated``) and
    whether the judge deducted (``deducted``); their means; how often each rule and rubric item fired.
    The sampling seed is fixed so that two policies are compared on the same random numbers. Replies
    are laid out ``prompts * samples`` (reply ``i`` answers prompt ``i % len(rows)``)."""
    import torch

    from engine.rollout.hf import generate_hf
    from engine.train.ppo_data import encode_prompt
    from engine.train.ppo_model import POLICY

    ac.model.set_adapter(POLICY)
    torch.manual_seed(seed)
    prompts = [encode_prompt(ac.tokenizer, r["prompt"], max_length=max_prompt_length) for r in rows] * samples
    texts = []
    for i in range(0, len(prompts), 16):
        texts += generate_hf(ac.model, ac.tokenizer, prompts[i : i + 16], max_new_tokens=max_new_tokens).texts
    scored = rewards.score(
        prompts=[r["prompt"] for r in rows] * samples,
        replies=texts,
        tasks=[r["task"] for r in rows] * samples,
        stages=[r.get("stage") for r in rows] * samples,
    )
    n = len(texts)
    violated = [1.0 if hits else 0.0 for hits in scored.rule_hits]
    deducted = [1.0 if hits else 0.0 for hits in scored.judge_hits]
    has_judge = bool(scored.judge_ids)
    return {
        "n": n,
        "n_prompts": len(rows),
        "r_total": sum(scored.r_total) / n,
        "r_model": sum(scored.r_model) / n,
        "e_func": sum(scored.e_func) / n,
        "e_judge": sum(scored.e_judge) / n,
        "violation_rate": sum(violated) / n,
        "judge_deduction_rate": sum(deducted) / n if has_judge else None,
        "judge_failures": scored.judge_failures,
        "violated": violated,
        "deducted": deducted if has_judge else None,
        "r_totals": list(scored.r_total),
        "r_models": list(scored.r_model),
        "rules": dict(Counter(rule for hits in scored.rule_hits for rule in hits)),
        "judge_rules": dict(Counter(rule for hits in scored.judge_hits for rule in hits)),
        "replies": texts,
    }


# Per-reply lists of ``sampled_quality`` compared by the benchmarks: key, and whether lower is better.
METRICS = {
    "violation_rate": ("violated", True),
    "judge_deduction_rate": ("deducted", True),
    "rm_score": ("r_models", False),
    "r_total": ("r_totals", False),
}


def compare(baselines: list[dict], candidates: list[dict], *, metrics=tuple(METRICS)) -> dict:
    """``engine.evalstats.pooled_difference`` of each metric, candidate against baseline, one pair of
    ``sampled_quality`` results per seed (> 0 is better); None for a metric one side lacks (no judge)."""
    out = {}
    for name in metrics:
        key, lower = METRICS[name]
        if any(q[key] is None for q in baselines + candidates):
            out[name] = None
            continue
        out[name] = pooled_difference(
            [q[key] for q in baselines],
            [q[key] for q in candidates],
            n_prompts=baselines[0]["n_prompts"],
            lower_is_better=lower,
        )
    return out


def evaluate_checkpoint(ac, run_dir: Path, rows: list[dict], **quality) -> dict:
    """Load the last checkpoint of ``run_dir`` into ``ac`` (policy and value adapters) and sample."""
    from engine.checkpoint import load_checkpoint
    from engine.rundir import latest_checkpoint

    ac.load_trainable_state(load_checkpoint(latest_checkpoint(run_dir).path)["trainable"])
    return sampled_quality(ac, rows, **quality)


def method_runs(
    configs: dict, rows: list[dict], work: Path, *, seeds, eval_rewards, eval_samples: int, eval_seed: int,
    on_seed=None, on_start=None,
) -> dict:  # fmt: skip
    """Train every config of ``configs`` (``name -> seed -> config``) on every seed and evaluate all of
    them, and the start policy once, on ``rows`` with ``eval_rewards`` and one sampling seed. The start
    policy is the base (LoRA's B starts at 0), the same whatever the method or seed."""
    import torch

    from engine.train.ppo import train
    from engine.train.ppo_model import build_actor_critic

    first = next(iter(configs.values()))(seeds[0])
    quality = {
        "rewards": eval_rewards, "samples": eval_samples, "seed": eval_seed,
        "max_new_tokens": first.max_response_length, "max_prompt_length": first.max_prompt_length,
    }  # fmt: skip
    torch.manual_seed(0)
    # An evaluation model without the RM adapter: the checkpoints' policy and value adapters load into it.
    ac = build_actor_critic(_without_rm(first))
    start = sampled_quality(ac, rows, **quality)
    if on_start is not None:
        on_start(start)
    runs = []
    for seed in seeds:
        run = {"seed": seed}
        for name, config_of in configs.items():
            config = config_of(seed)
            t0 = time.perf_counter()
            result = train(config, run_dir=work / f"{name}-s{seed}")
            run[name] = {
                "train_s": time.perf_counter() - t0,
                "result": result,
                "quality": evaluate_checkpoint(ac, work / f"{name}-s{seed}", rows, **quality),
            }
        runs.append(run)
        if on_seed is not None:
            on_seed(run, start)
    return {"start": start, "runs": runs, "config": first}


def _without_rm(config):
    import dataclasses

    return dataclasses.replace(config, rewards=dataclasses.replace(config.rewards, rm_path=None, judge=None))


def learning_runs(
    tiny_model: Path,
    work: Path,
    *,
    seeds=LEARNING_SEEDS,
    eval_samples: int = 8,
    eval_seed: int = 1234,
    on_seed=None,
    **overrides,
) -> dict:
    """The multi-seed REPO learning demo: REPO runs through ``engine.train.ppo.train`` from one start
    policy on the same training prompts, one per training seed, and the sampled quality of the start
    policy and of each trained one on held-out prompts (other dialogues), with one sampling seed.
    ``pooled`` holds the violation rate's and R_total's improvement pooled over the seeds, paired and
    clustered by prompt (``engine.evalstats``)."""
    from engine.train.ppo_config import REPOConfig
    from engine.train.ppo_data import read_prompt_rows
    from engine.train.ppo_rewards import build_reward_source

    train_path, heldout_path = split_prompts(work / "data")
    fields = {"base_model": str(tiny_model), "dataset": str(train_path), **LEARNING_DEMO, **overrides}
    base_config = REPOConfig.preset("tiny", **{**fields, "seed": seeds[0]})
    rows = read_prompt_rows([str(heldout_path)])

    def on_run(run, start):
        if on_seed is not None:
            on_seed({"seed": run["seed"], "after": run["repo"]["quality"], **run["repo"]}, start)

    out = method_runs(
        {"repo": lambda seed: REPOConfig.preset("tiny", **{**fields, "seed": seed})}, rows, work, seeds=seeds,
        eval_rewards=build_reward_source(base_config), eval_samples=eval_samples, eval_seed=eval_seed, on_seed=on_run,
    )  # fmt: skip
    before = out["start"]
    runs = [{"seed": r["seed"], "after": r["repo"]["quality"], **r["repo"]} for r in out["runs"]]
    n = len(rows)
    pooled = {
        "violation_rate": pooled_improvement(
            before["violated"], [r["after"]["violated"] for r in runs], n_prompts=n, lower_is_better=True
        ),
        "r_total": pooled_improvement(
            before["r_totals"], [r["after"]["r_totals"] for r in runs], n_prompts=n, lower_is_better=False
        ),
    }
    return {"config": base_config, "before": before, "runs": runs, "pooled": pooled,
            "train_path": str(train_path), "heldout_path": str(heldout_path),
            "train_rows": len(read_prompt_rows([str(train_path)])), "heldout_rows": n}  # fmt: skip
