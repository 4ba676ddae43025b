"""Shared set-up for the PPO / REPO tests: demo prompt files and tiny configs."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from pathlib import Path

from engine.demo.datasets import prompt_rows
from engine.demo.world import generate_world
from engine.rundir import read_metrics
from engine.train.ppo_config import PPOConfig, REPOConfig


def write_prompts(directory: Path, *, n_dialogues: int = 24, n_probe: int = 16, seed: int = 0) -> tuple[Path, Path]:
    """Train and held-out probe JSONL files from the demo world; probe rows come from other dialogues."""
    rows = prompt_rows(generate_world(seed=seed, n_dialogues=n_dialogues))
    directory.mkdir(parents=True, exist_ok=True)
    train, probe = directory / "train.jsonl", directory / "probe.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows[:-n_probe]), encoding="utf-8")
    probe.write_text("".join(json.dumps(r) + "\n" for r in rows[-n_probe:]), encoding="utf-8")
    return train, probe


def tiny_config(tiny_model: Path, data_dir: Path, *, method: str = "repo", **overrides) -> REPOConfig | PPOConfig:
    train, probe = write_prompts(data_dir)
    cls = REPOConfig if method == "repo" else PPOConfig
    fields = {"base_model": str(tiny_model), "dataset": str(train), "probe_dataset": str(probe), **overrides}
    return cls.preset("tiny", **fields)


def comparable(rows: list[dict]) -> list[dict]:
    """Metrics lines without wall-clock fields, for comparing two runs."""
    return [{k: v for k, v in row.items() if k != "time" and not k.startswith("time/")} for row in rows]


REQUIRED_METRICS = ("reward/score", "ppo/policy_loss", "ppo/value_loss", "ppo/entropy", "ppo/clip_fraction")


def assert_finite_metrics(run_dir: Path) -> list[dict]:
    """Every step's core metrics are finite numbers (the writer turns NaN and inf into null)."""
    rows = read_metrics(run_dir)
    for row in rows:
        if row["step"] == 0:
            continue
        for key in REQUIRED_METRICS:
            value = row.get(key)
            assert isinstance(value, int | float) and math.isfinite(value), f"step {row['step']}: {key} = {value}"
    return rows


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
    """Mean R_total and RF-violation rate of ``samples`` sampled replies per held-out prompt, with
    their standard errors over the replies, and how often each rule fired. The sampling seed is fixed
    so that two policies are compared on the same random numbers."""
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
        prompts=[r["prompt"] for r in rows] * samples, replies=texts, tasks=[r["task"] for r in rows] * samples
    )
    n = len(texts)
    violated = [1.0 if hits else 0.0 for hits in scored.rule_hits]
    r_total, rate = sum(scored.r_total) / n, sum(violated) / n
    rules = dict(Counter(rule for hits in scored.rule_hits for rule in hits))
    return {
        "n": n,
        "r_total": r_total,
        "r_total_se": _standard_error(scored.r_total),
        "e_func": sum(scored.e_func) / n,
        "violation_rate": rate,
        "violation_se": _standard_error(violated),
        "violated": violated,
        "r_totals": list(scored.r_total),
        "n_prompts": len(rows),
        "rules": rules,
        "replies": texts,
    }


def _standard_error(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


# The learning demo (docs/engine.md, "Does it learn?"): the tiny preset with 32 rollouts per update and
# prompts that keep the system message with the case (the oldest turns are dropped first), so that ten
# REPO steps per seed fit about a minute and a half on two CPU cores.
LEARNING_DEMO: dict = {
    "per_device_batch_size": 32,
    "max_steps": 10,
    "max_prompt_length": 384,
    "save_every": 10,
    "probe_every": 0,
}
LEARNING_SEEDS = (0, 1, 2)


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
    """The multi-seed learning demo: REPO runs through ``engine.train.ppo.train`` from one start
    policy on the same training prompts, one per training seed, and the sampled quality of the start
    policy and of each trained one on held-out prompts (other dialogues), with one sampling seed.
    ``pooled`` holds the violation rate's and R_total's improvement pooled over the seeds, paired and
    clustered by prompt (tests/engine/learning_stats.py)."""
    import time

    import torch

    from engine.checkpoint import load_checkpoint
    from engine.rundir import latest_checkpoint
    from engine.train.ppo import train
    from engine.train.ppo_data import read_prompt_rows
    from engine.train.ppo_model import build_actor_critic
    from engine.train.ppo_rewards import build_reward_source
    from tests.engine.learning_stats import pooled_improvement

    train_path, heldout_path = split_prompts(work / "data")
    fields = {"base_model": str(tiny_model), "dataset": str(train_path), **LEARNING_DEMO, **overrides}
    base_config = REPOConfig.preset("tiny", **{**fields, "seed": seeds[0]})
    rows = read_prompt_rows([str(heldout_path)])
    rewards = build_reward_source(base_config)
    quality = {
        "rewards": rewards, "samples": eval_samples, "seed": eval_seed,
        "max_new_tokens": base_config.max_response_length, "max_prompt_length": base_config.max_prompt_length,
    }  # fmt: skip
    torch.manual_seed(0)
    ac = build_actor_critic(base_config)  # LoRA B = 0: exactly the start policy, whatever the seed
    before = sampled_quality(ac, rows, **quality)
    runs = []
    for seed in seeds:
        config = REPOConfig.preset("tiny", **{**fields, "seed": seed})
        start = time.perf_counter()
        result = train(config, run_dir=work / f"run-s{seed}")
        train_s = time.perf_counter() - start
        ac.load_trainable_state(load_checkpoint(latest_checkpoint(work / f"run-s{seed}").path)["trainable"])
        run = {"seed": seed, "after": sampled_quality(ac, rows, **quality), "train_s": train_s, "result": result}
        runs.append(run)
        if on_seed is not None:
            on_seed(run, before)
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
