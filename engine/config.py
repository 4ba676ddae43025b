"""Typed engine configs: one dataclass per training method, JSON round-trippable.

The web app writes ``config.json`` into a run directory (``to_dict`` plus ``"method"``); the CLI reads
it back with :func:`load_config`. Defaults are the paper's (PAPER.md, "Training setup"): LoRA r 64,
alpha 64, lr 1e-6, 2 warm-up steps, batch 128, replies of at most 512 tokens, 10 epochs for SFT/DPO
and 2 for the RL methods. ``preset("tiny")`` scales everything down for the CPU and the tests.

>>> cfg = SFTConfig.preset("tiny", base_model="/m", dataset="/d.jsonl")
>>> SFTConfig.from_dict(cfg.to_dict()) == cfg
True
>>> try:
...     SFTConfig.from_dict({"method": "sft", "learning_rat": 1.0})
... except ConfigError as exc:
...     print(exc)
sft config: unknown key 'learning_rat'
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from engine.configio import ConfigError, Serialisable, read_json  # ConfigError: callers catch it from here
from engine.rewards.rubric import EVIDENCE_MAX_CHARS


# ---------------------------------------------------------------------------------------------------
# reward sources (RM, judge, rules): shared by GRPO here and by PPO/REPO in engine.train.ppo
# ---------------------------------------------------------------------------------------------------
@dataclass
class JudgeConfig(Serialisable):
    """The LLM reward judge (RJ): any OpenAI-compatible chat endpoint."""

    base_url: str = ""  # e.g. http://127.0.0.1:8001/v1
    model: str = ""  # the served model name
    rubric: dict[str, Any] | str | None = None  # inline rubric document, or a path to one; None = default
    concurrency: int = 16  # DESIGN.md: 16 concurrent calls were 12x faster than serial
    timeout: float = 30.0  # seconds per call; a timed-out verdict counts as neutral 0
    max_tokens: int = 512
    evidence_chars: int = EVIDENCE_MAX_CHARS  # bounds each evidence string: the verdict must fit max_tokens
    retries: int = 2  # extra tries after a connection error, 429 or 5xx (exponential backoff)

    def errors(self) -> list[str]:
        errors = []
        if not self.base_url or not self.model:
            errors.append("judge needs base_url and model")
        if self.concurrency < 1 or self.timeout <= 0:
            errors.append("judge concurrency must be >= 1 and timeout > 0")
        if self.max_tokens < 1 or self.evidence_chars < 0 or self.retries < 0:
            errors.append("judge max_tokens must be >= 1, evidence_chars and retries >= 0")
        return errors


@dataclass
class RewardSourcesConfig(Serialisable):
    """The three reward sources of PAPER.md and the enhancement's clip ``n``."""

    rm_path: str | None = None  # a trained RM run dir (adapter + score head + offset); None = no RM
    judge: JudgeConfig | None = None  # None = no judge (E_judge = 0)
    rules: dict[str, Any] | str | None = None  # inline rule-set document or a path; None = default set
    use_rules: bool = True  # False = E_func = 0 (ablation)
    n: float = 100.0  # PAPER.md: E_enh = clip(E_judge + E_func, -n, n)

    def errors(self) -> list[str]:
        return ["rewards.n must be > 0"] if self.n <= 0 else []


# ---------------------------------------------------------------------------------------------------
# the common base and one config per method
# ---------------------------------------------------------------------------------------------------
PRESETS = ("tiny", "paper")  # TrainConfig.preset's names: CPU-sized, and the paper's defaults
_TINY_COMMON: dict[str, Any] = {
    "lora_r": 8,
    "lora_alpha": 16,
    "learning_rate": 5e-4,
    "warmup_steps": 1,
    "per_device_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "num_epochs": 1.0,
    "max_steps": 6,
    "save_every": 3,
    "max_prompt_length": 384,
    "max_response_length": 48,
}


@dataclass
class TrainConfig(Serialisable):
    """Fields every method shares. Effective batch = per_device x accumulation x processes (128)."""

    base_model: str = ""  # HF checkpoint dir (e.g. Qwen3-32B) or the tiny model from `engine bootstrap`
    dataset: str | list[str] = ""  # JSONL snapshot(s) in TRL's format for this method
    eval_dataset: str | None = None  # held-out JSONL, same format
    lora_r: int = 64  # PAPER.md
    lora_alpha: int = 64  # PAPER.md
    lora_dropout: float = 0.05  # our choice
    lora_target_modules: list[str] | str = "all-linear"
    learning_rate: float = 1e-6  # PAPER.md
    warmup_steps: int = 2  # PAPER.md
    per_device_batch_size: int = 8
    gradient_accumulation_steps: int = 16  # 8 x 16 = 128 on one process (PAPER.md batch 128)
    num_epochs: float = 10.0  # PAPER.md: SFT and DPO 10 epochs
    max_steps: int | None = None  # optional cap on optimiser steps (overrides epochs when set)
    seed: int = 0
    save_every: int = 50  # checkpoint every K optimiser steps (and at the end)
    max_prompt_length: int = 2048
    max_response_length: int = 512  # PAPER.md: replies of at most 512 tokens
    logging_every: int = 1
    dtype: str = "auto"  # "auto" = bfloat16 on CUDA, float32 on the CPU
    gradient_checkpointing: bool = False

    TINY: ClassVar[dict[str, Any]] = {}  # per-method additions to the tiny preset

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> Self:
        """A config from a named preset: ``"paper"`` (the defaults) or ``"tiny"`` (CPU, seconds)."""
        if name == "paper":
            return cls.from_dict(overrides)
        if name != "tiny":
            raise ConfigError(f"unknown preset {name!r} (use 'paper' or 'tiny')")
        return cls.from_dict({**_TINY_COMMON, **cls.TINY, **overrides})

    @property
    def datasets(self) -> list[str]:
        return [self.dataset] if isinstance(self.dataset, str) else list(self.dataset)

    def errors(self) -> list[str]:
        errors = []
        if not self.base_model:
            errors.append("base_model is required")
        if not self.datasets or not all(self.datasets):
            errors.append("dataset is required")
        positive = ("lora_r", "lora_alpha", "per_device_batch_size", "gradient_accumulation_steps")
        errors += [f"{name} must be >= 1" for name in positive if getattr(self, name) < 1]
        if self.learning_rate <= 0 or self.num_epochs <= 0:
            errors.append("learning_rate and num_epochs must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            errors.append("max_steps must be >= 1 or null")
        if self.save_every < 1 or self.logging_every < 1:
            errors.append("save_every and logging_every must be >= 1")
        if not 0 <= self.lora_dropout < 1:
            errors.append("lora_dropout must be in [0, 1)")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            errors.append("dtype must be auto, float32, bfloat16 or float16")
        return errors


@dataclass
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on gold agent replies (TRL ``SFTTrainer``, prompt-completion rows)."""

    method: ClassVar[str] = "sft"
    completion_only_loss: bool = True  # loss on the agent's reply only, not the dialogue so far


@dataclass
class DPOConfig(TrainConfig):
    """Direct preference optimisation (TRL ``DPOTrainer``); reference = the base, adapter disabled."""

    method: ClassVar[str] = "dpo"
    beta: float = 0.1  # TRL default; the paper does not give one
    loss_type: str = "sigmoid"

    def errors(self) -> list[str]:
        return super().errors() + (["beta must be > 0"] if self.beta <= 0 else [])


@dataclass
class RMConfig(TrainConfig):
    """Bradley-Terry reward model (TRL ``RewardTrainer``): LoRA + a trainable score head."""

    method: ClassVar[str] = "rm"
    num_epochs: float = 2.0  # our choice: the paper gives no RM epochs; preference RMs overfit fast
    learning_rate: float = 1e-5  # our choice: a fresh score head needs more than 1e-6
    center_rewards_coefficient: float | None = 0.01  # keeps scores near 0 (their sign matters in REPO)
    calibration_dataset: str | None = None  # reference pairs for the fixed centring offset; None = eval/train

    TINY: ClassVar[dict[str, Any]] = {"max_steps": 10, "per_device_batch_size": 4}


@dataclass
class RLConfig(TrainConfig):
    """What every RL method (GRPO here; PPO and REPO in engine.train.ppo) shares."""

    num_epochs: float = 2.0  # PAPER.md: PPO, GRPO and REPO 2 epochs
    rewards: RewardSourcesConfig = field(default_factory=RewardSourcesConfig)
    use_enhanced_reward: bool = True  # False = the RM score alone (plain baselines)
    temperature: float = 1.0
    top_p: float = 1.0
    probe_dataset: str | None = None  # held-out prompts the judge scores every probe_every steps
    probe_every: int = 10
    samples_per_log: int = 4  # generated replies with their reward breakdown written at each metrics line

    def errors(self) -> list[str]:
        errors = super().errors() + self.rewards.errors()
        if self.samples_per_log < 0:
            errors.append("samples_per_log must be >= 0")
        if self.temperature <= 0:
            errors.append("temperature must be > 0")
        return errors


@dataclass
class GRPOConfig(RLConfig):
    """Group-relative policy optimisation (TRL ``GRPOTrainer``), rewarded by the same callable as REPO.

    ``use_enhanced_reward=True`` is the ablation "GRPO with the enhanced REPO reward"; ``False`` is the
    paper's GRPO baseline (RM score alone, or the rule points when no RM is configured).
    """

    method: ClassVar[str] = "grpo"
    num_generations: int = 8  # group size; the per-step batch must be a multiple of it
    beta: float = 0.0  # KL coefficient; 0 = no reference model (as in REPO)
    epsilon: float = 0.2  # PPO-style ratio clip
    loss_type: str = "dapo"  # TRL 1.16's default

    TINY: ClassVar[dict[str, Any]] = {"num_generations": 2, "max_steps": 3, "max_response_length": 24}

    def errors(self) -> list[str]:
        errors = super().errors()
        if self.num_generations < 2:
            errors.append("num_generations must be >= 2 (advantages are relative to the group)")
        return errors


# ---------------------------------------------------------------------------------------------------
# method registry: config classes by method, imported lazily (PPO's lives with its trainer)
# ---------------------------------------------------------------------------------------------------
CONFIG_CLASSES: dict[str, str] = {
    "sft": "engine.config:SFTConfig",
    "dpo": "engine.config:DPOConfig",
    "rm": "engine.config:RMConfig",
    "grpo": "engine.config:GRPOConfig",
    "ppo": "engine.train.ppo_config:PPOConfig",  # light module: the web app loads configs without torch
    "repo": "engine.train.ppo_config:REPOConfig",
}


def config_class(method: str) -> type[TrainConfig]:
    if method not in CONFIG_CLASSES:
        raise ConfigError(f"unknown method {method!r} (one of {', '.join(CONFIG_CLASSES)})")
    module, _, name = CONFIG_CLASSES[method].partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"method {method!r} is not available: {exc}") from None


def config_from_dict(data: dict[str, Any], *, method: str | None = None) -> TrainConfig:
    """Build the config named by ``data["method"]`` (or ``method`` when the file has none)."""
    if not isinstance(data, dict):
        raise ConfigError("config: expected a JSON object")
    chosen = data.get("method", method)
    if method and chosen != method:
        raise ConfigError(f"config is for method {chosen!r}, not {method!r}")
    if not chosen:
        raise ConfigError("config: 'method' is missing")
    return config_class(chosen).from_dict({**data, "method": chosen})


def load_config(path: str | Path, *, method: str | None = None) -> TrainConfig:
    """Read ``config.json``; every problem is a :class:`ConfigError` with a one-line message."""
    return config_from_dict(read_json(path), method=method)


def save_config(config: TrainConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
