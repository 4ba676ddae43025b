"""Typed engine configs: one dataclass per training method, JSON round-trippable.

The web app writes ``config.json`` into a run directory (``to_dict`` plus ``"method"``); the CLI reads
it back with :func:`load_config`. Defaults are the paper's (docs/method.md, "Training setup"): LoRA r 64,
alpha 64, lr 1e-6, 2 warm-up steps, batch 128, replies of at most 512 tokens, 10 epochs for SFT/DPO
and 2 for the RL methods. ``preset("tiny")`` scales everything down for the CPU and the tests.

Each field explains itself in ``metadata["help"]``, which ``python -m engine train METHOD --help`` and
the job form show (``engine.configio.config_fields``).

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
from engine.prompting import DEFAULT_CHAT_TEMPLATE_KWARGS, template_kwargs
from engine.rewards.rubric import EVIDENCE_MAX_CHARS


# ---------------------------------------------------------------------------------------------------
# reward sources (RM, judge, rules): shared by GRPO here and by PPO/REPO in engine.train.ppo
# ---------------------------------------------------------------------------------------------------
@dataclass
class JudgeConfig(Serialisable):
    """The LLM reward judge (RJ): any OpenAI-compatible chat endpoint."""

    base_url: str = field(default="", metadata={"help": "The judge's OpenAI-compatible URL, e.g. http://host:8001/v1."})
    model: str = field(default="", metadata={"help": "The served model name the judge's calls ask for."})
    rubric: dict[str, Any] | str | None = field(
        default=None,
        metadata={
            "help": "The rubric of deduction and bonus rules: the document inline, a path to it, or null for "
            "the default rubric (docs/method.md, 'The judge')."
        },
    )
    concurrency: int = field(
        default=16,
        metadata={
            "help": "Judge calls in flight at once; concurrent calls hide the judge's latency (5x faster "
            "than one at a time at 16: docs/benchmarks.md)."
        },
    )
    timeout: float = field(
        default=30.0, metadata={"help": "Seconds per call; a call that times out counts as a neutral verdict (0)."}
    )
    max_tokens: int = field(
        default=0,
        metadata={
            "help": "Token budget of one verdict; 0 = the longest verdict the rubric's schema allows, so no "
            "verdict is ever cut off (docs/rewards.md, 'The token budget'); > 0 caps it."
        },
    )
    context_tokens: int = field(
        default=0,
        metadata={
            "help": "The judge model's context length in tokens; 0 = ask the server (vLLM reports "
            "max_model_len). Prompts that would not fit beside the verdict lose their oldest messages."
        },
    )
    evidence_chars: int = field(
        default=EVIDENCE_MAX_CHARS,
        metadata={
            "help": "Longest evidence quote per rule hit (and so the longest verdict); 0 = hits only, the "
            "fewest tokens (all a training run needs)."
        },
    )
    retries: int = field(
        default=2, metadata={"help": "Extra tries after a connection error, 429 or 5xx (exponential backoff)."}
    )
    in_process: bool = field(
        default=False,
        metadata={
            "help": "true = no server: ``model`` is a demo judge's directory (``python -m engine bootstrap "
            "--judge``) whose greedy verdicts are read in this process (docs/engine.md, 'The demo judge'). "
            "For the tiny CPU world only, where a served judge prefills too slowly for a learning run; "
            "a real judge is served."
        },
    )

    def errors(self) -> list[str]:
        errors = []
        if not self.model or not (self.base_url or self.in_process):
            errors.append("judge needs base_url and model (or in_process and model, a demo judge's directory)")
        if self.concurrency < 1 or self.timeout <= 0:
            errors.append("judge concurrency must be >= 1 and timeout > 0")
        if min(self.max_tokens, self.context_tokens, self.evidence_chars, self.retries) < 0:
            errors.append("judge max_tokens, context_tokens, evidence_chars and retries must be >= 0")
        return errors


@dataclass
class RewardSourcesConfig(Serialisable):
    """The three reward sources of REPO and the enhancement's clip ``n`` (docs/method.md)."""

    rm_path: str | None = field(
        default=None,
        metadata={
            "help": "A trained reward-model run directory (adapter, score head, centring offset); null = "
            "no RM, R_model = 0."
        },
    )
    judge: JudgeConfig | None = field(
        default=None, metadata={"help": "The LLM judge (an object with the keys below); null = no judge, E_judge = 0."}
    )
    rules: dict[str, Any] | str | None = field(
        default=None,
        metadata={"help": "The rule set: the document inline, a path to it, or null for the default rules."},
    )
    use_rules: bool = field(default=True, metadata={"help": "false = no rule functions, E_func = 0 (an ablation)."})
    n: float = field(
        default=100.0,
        metadata={
            "help": "The enhancement's clip: E_enh = clip(E_judge + E_func, -n, n), R_total = R_model * "
            "(1 +/- E_enh / n); the paper's 100."
        },
    )

    def errors(self) -> list[str]:
        return ["rewards.n must be > 0"] if self.n <= 0 else []


# ---------------------------------------------------------------------------------------------------
# the common base and one config per method
# ---------------------------------------------------------------------------------------------------
# Why the TRL trainers refuse parallel: fsdp (docs/engine.md, "Sharding"): accelerate 1.15 turns the
# Trainer's FSDP on only for accelerator backends; on the CPU (gloo) it silently trains with DDP, so a
# run there would claim a sharding it does not do, and the path cannot be tested on this project's CI.
FSDP_TRL_REASON = (
    "the TRL trainers get FSDP from accelerate, which applies it on GPUs only (on the CPU it would "
    "silently replicate the model); use parallel ddp, or accelerate launch --use_fsdp on GPUs "
    "(docs/engine.md, GPU recipes). parallel fsdp is built for the ppo and repo methods"
)
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

    base_model: str = field(
        default="",
        metadata={
            "help": "Required. The base model: an HF checkpoint directory (e.g. Qwen3-32B) or the tiny model of "
            "`python -m engine bootstrap`."
        },
    )
    dataset: str | list[str] = field(
        default="",
        metadata={"help": "Required. The training JSONL file(s): dataset snapshots in this method's TRL format."},
    )
    eval_dataset: str | None = field(
        default=None, metadata={"help": "A held-out JSONL file in the same format; null = none."}
    )
    chat_template_kwargs: dict[str, Any] | str = field(
        default=json.dumps(DEFAULT_CHAT_TEMPLATE_KWARGS),
        metadata={
            "help": "Switches of the model's chat template, a JSON object, used wherever a prompt becomes tokens "
            "(training prompts, the RM, generation, evaluation) and sent to vLLM with each chat request; "
            '{"enable_thinking": false} keeps Qwen3-like templates from opening a thinking block. {} = none.'
        },
    )
    lora_r: int = field(default=64, metadata={"help": "LoRA rank (the paper: 64)."})
    lora_alpha: int = field(
        default=64, metadata={"help": "LoRA alpha, the adapter's scale is alpha / r (the paper: 64)."}
    )
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA layers, in [0, 1) (our choice)."})
    lora_target_modules: list[str] | str = field(
        default="all-linear",
        metadata={"help": "Which modules get LoRA adapters: peft's 'all-linear' or a list of module names."},
    )
    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate (the paper: 1e-6)."})
    warmup_steps: int = field(
        default=2,
        metadata={"help": "Optimiser steps of linear warm-up before the learning rate is reached (the paper: 2)."},
    )
    per_device_batch_size: int = field(default=8, metadata={"help": "Rows per process per forward pass."})
    gradient_accumulation_steps: int = field(
        default=16,
        metadata={
            "help": "Forward passes per optimiser step; batch = per_device_batch_size x this x processes "
            "(8 x 16 = the paper's 128 on one process)."
        },
    )
    num_epochs: float = field(
        default=10.0, metadata={"help": "Passes over the dataset (the paper: 10 for SFT and DPO)."}
    )
    max_steps: int | None = field(
        default=None, metadata={"help": "A cap on optimiser steps that overrides num_epochs; null = the epochs decide."}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the adapters' initialisation, the data order and sampling."}
    )
    save_every: int = field(
        default=50, metadata={"help": "Write a checkpoint every this many optimiser steps (and at the end)."}
    )
    max_prompt_length: int = field(
        default=2048, metadata={"help": "Longest prompt in tokens; a longer one keeps its end (the latest turns)."}
    )
    max_response_length: int = field(default=512, metadata={"help": "Longest reply in tokens (the paper: 512)."})
    logging_every: int = field(default=1, metadata={"help": "Write a metrics line every this many optimiser steps."})
    dtype: str = field(
        default="auto",
        metadata={
            "help": "Dtype of the frozen base: auto (bfloat16 on CUDA, float32 on the CPU), float32, "
            "bfloat16 or float16."
        },
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations in the backward pass: less memory, more time."}
    )
    parallel: str = field(
        default="ddp",
        metadata={
            "help": "How several processes share the work: ddp (every process holds the whole base; gradients "
            "averaged in buckets) or fsdp (FSDP2 shards the base, the LoRA adapters, their optimiser state and "
            "the value head over the processes: less memory per process, more communication). fsdp is built "
            "for the PPO / REPO loop only."
        },
    )

    TINY: ClassVar[dict[str, Any]] = {}  # per-method additions to the tiny preset
    supports_fsdp: ClassVar[bool] = False  # parallel: fsdp is built for this method (the PPO / REPO loop)

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
        try:
            template_kwargs(self.chat_template_kwargs)
        except ValueError as exc:
            errors.append(str(exc))
        if not 0 <= self.lora_dropout < 1:
            errors.append("lora_dropout must be in [0, 1)")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            errors.append("dtype must be auto, float32, bfloat16 or float16")
        if self.parallel not in ("ddp", "fsdp"):
            errors.append("parallel must be ddp or fsdp")
        elif self.parallel == "fsdp" and not self.supports_fsdp:
            errors.append(f"parallel fsdp is not available for {self.method}: {FSDP_TRL_REASON}")
        return errors


@dataclass
class SFTConfig(TrainConfig):
    """Supervised fine-tuning on gold agent replies (TRL ``SFTTrainer``, prompt-completion rows)."""

    method: ClassVar[str] = "sft"
    completion_only_loss: bool = field(
        default=True, metadata={"help": "Loss on the agent's reply only, not on the dialogue before it."}
    )


@dataclass
class DPOConfig(TrainConfig):
    """Direct preference optimisation (TRL ``DPOTrainer``); reference = the base, adapter disabled."""

    method: ClassVar[str] = "dpo"
    beta: float = field(
        default=0.1,
        metadata={
            "help": "DPO's beta: how far the policy may move from the reference (TRL's default; the paper gives none)."
        },
    )
    loss_type: str = field(default="sigmoid", metadata={"help": "TRL's DPO loss type; sigmoid = the DPO paper's loss."})

    def errors(self) -> list[str]:
        return super().errors() + (["beta must be > 0"] if self.beta <= 0 else [])


@dataclass
class RMConfig(TrainConfig):
    """Bradley-Terry reward model (TRL ``RewardTrainer``): LoRA + a trainable score head."""

    method: ClassVar[str] = "rm"
    num_epochs: float = field(
        default=2.0, metadata={"help": "Passes over the pairs (our choice: the paper gives none; RMs overfit fast)."}
    )
    learning_rate: float = field(
        default=1e-5, metadata={"help": "Peak learning rate (our choice: a fresh score head needs more than 1e-6)."}
    )
    center_rewards_coefficient: float | None = field(
        default=0.01,
        metadata={
            "help": "Pulls the scores towards 0 during training (their sign matters to the enhancement); null = off."
        },
    )
    calibration_dataset: str | None = field(
        default=None,
        metadata={
            "help": "Reference pairs whose mean score becomes the fixed centring offset; null = the held-out "
            "rows (else the training rows)."
        },
    )

    TINY: ClassVar[dict[str, Any]] = {"max_steps": 10, "per_device_batch_size": 4}


@dataclass
class RLConfig(TrainConfig):
    """What every RL method (GRPO here; PPO and REPO in engine.train.ppo) shares."""

    num_epochs: float = field(
        default=2.0, metadata={"help": "Passes over the prompts (the paper: 2 for PPO, GRPO and REPO)."}
    )
    rewards: RewardSourcesConfig = field(
        default_factory=RewardSourcesConfig,
        metadata={"help": "The reward sources: an object with the keys below (rm_path, judge, rules, use_rules, n)."},
    )
    use_enhanced_reward: bool = field(
        default=True, metadata={"help": "true = train on R_total (the enhanced reward); false = on R_model alone."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of the rollouts (> 0)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling of the rollouts; 1 = the full distribution."})
    probe_dataset: str | None = field(
        default=None,
        metadata={
            "help": "PPO/REPO: held-out prompts answered greedily and scored every probe_every steps; null = "
            "eval_dataset."
        },
    )
    probe_every: int = field(default=10, metadata={"help": "PPO/REPO: run the probe every this many steps; 0 = never."})
    samples_per_log: int = field(
        default=4,
        metadata={
            "help": "PPO/REPO: replies written with their reward breakdown at each metrics line (the job "
            "page shows them)."
        },
    )

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
    num_generations: int = field(
        default=8,
        metadata={"help": "Replies sampled per prompt (the group, >= 2); the per-step batch must be a multiple of it."},
    )
    beta: float = field(default=0.0, metadata={"help": "KL coefficient; 0 = no reference model (as in REPO)."})
    epsilon: float = field(default=0.2, metadata={"help": "PPO-style clip of the probability ratio."})
    loss_type: str = field(default="dapo", metadata={"help": "TRL's GRPO loss type (dapo is TRL 1.16's default)."})

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
