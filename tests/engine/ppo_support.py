"""Shared set-up for the PPO / REPO tests: demo prompt files and tiny configs."""

from __future__ import annotations

import json
import math
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
