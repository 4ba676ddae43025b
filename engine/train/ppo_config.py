"""Configs for our own PPO / REPO loop (``engine.train.ppo``): the PPO baseline and REPO.

REPO (PAPER.md) is PPO with the enhanced reward, no KL penalty and no reference model; the PPO
baseline of the paper is the same loop with ``kl_coef > 0`` (reference = the base with the adapters
disabled) and the RM score alone as reward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from engine.config import RLConfig

_TINY: dict[str, Any] = {
    # Seconds-long runs for the mechanics tests; the learning demo adds a larger batch and shorter
    # prompts on top of it (tests/engine/ppo_support.py, LEARNING_DEMO; docs/engine.md, "Does it learn?").
    "per_device_batch_size": 8,
    "learning_rate": 2e-3,
    "warmup_steps": 0,  # with 1 the first of a handful of steps would run at lr 0
    "max_steps": 8,
    "save_every": 4,
    "max_response_length": 24,
    "probe_every": 4,
    "lora_dropout": 0.0,
    # Monte-Carlo returns: one terminal reward and a critic that a few steps cannot train, so lam 0.95
    # would scale each token's credit by lam ** (tokens to the end) and mix in the critic's noise.
    "lam": 1.0,
}


@dataclass
class PPOConfig(RLConfig):
    """The PPO baseline: actor-critic with LoRA on one frozen base, GAE, clipped losses, KL penalty.

    The batch of one step is ``per_device_batch_size x gradient_accumulation_steps x processes``
    prompts, one reply each; each batch is reused for ``ppo_epochs`` passes in ``num_mini_batches``.
    """

    method: ClassVar[str] = "ppo"
    TINY: ClassVar[dict[str, Any]] = _TINY

    use_enhanced_reward: bool = False  # PAPER.md: the PPO baseline is rewarded by the RM alone
    # -- PPO (Schulman et al. 2017) ----------------------------------------------------------------
    ppo_epochs: int = 1  # passes over each rollout batch; 1 = on-policy (PAPER.md gives none)
    num_mini_batches: int = 1  # optimiser steps per pass = mini-batches (x accumulation)
    gamma: float = 1.0  # no discount inside one reply
    lam: float = 0.95  # GAE lambda
    clip_range: float = 0.2  # policy ratio clip
    clip_range_value: float = 0.2  # value clip around the rollout-time estimate
    vf_coef: float = 0.1  # value loss weight (TRL's old PPO default)
    ent_coef: float = 0.0  # entropy bonus; logged either way
    max_grad_norm: float = 1.0
    whiten_advantages: bool = True
    # -- the reference and KL ----------------------------------------------------------------------
    kl_coef: float = 0.05  # > 0: per-token KL penalty against the base (adapters disabled)
    kl_estimator: str = "k1"  # "k1" or "k3" (Schulman 2020); k1 in the reward as in InstructGPT
    log_kl: bool = True  # monitor KL to the initial policy even when kl_coef = 0 (one extra forward)
    # -- rewards -----------------------------------------------------------------------------------
    missing_eos_penalty: float | None = None  # subtracted from the reward of a reply cut at max length
    reward_scale: float = 1.0  # multiplies the reward before GAE
    rm_on_shared_base: bool = True  # the RM as the ``reward`` adapter of the policy's base, not a 2nd model
    r_model_without_rm: float | None = 1.0  # no RM configured: enhance this constant R_model (ppo_rewards)
    # -- rollouts ----------------------------------------------------------------------------------
    rollout_backend: str = "hf"  # "hf" (transformers generate) or "vllm" (an OpenAI-compatible server)
    vllm_base_url: str = ""  # e.g. http://127.0.0.1:8000/v1 (needs --enable-lora, runtime LoRA updating)
    vllm_lora_name: str = "policy"  # the adapter name the trainer pushes to the server
    drift_tolerance: float = 0.1  # max mean |trainer - vLLM| log-prob on the checked tokens
    drift_check_tokens: int = 32
    # -- training-time probe ----------------------------------------------------------------------
    probe_size: int = 20  # PAPER.md: the probe used 20 held-out dialogues

    def errors(self) -> list[str]:
        errors = super().errors()
        if self.ppo_epochs < 1 or self.num_mini_batches < 1:
            errors.append("ppo_epochs and num_mini_batches must be >= 1")
        if self.per_device_batch_size % self.num_mini_batches:
            errors.append("per_device_batch_size must be a multiple of num_mini_batches")
        if not 0 <= self.gamma <= 1 or not 0 <= self.lam <= 1:
            errors.append("gamma and lam must be in [0, 1]")
        if self.clip_range <= 0 or self.clip_range_value <= 0:
            errors.append("clip_range and clip_range_value must be > 0")
        if self.kl_coef < 0:
            errors.append("kl_coef must be >= 0")
        if self.kl_estimator not in ("k1", "k3"):
            errors.append("kl_estimator must be 'k1' or 'k3'")
        if self.rollout_backend not in ("hf", "vllm"):
            errors.append("rollout_backend must be 'hf' or 'vllm'")
        if self.rollout_backend == "vllm" and not self.vllm_base_url:
            errors.append("rollout_backend 'vllm' needs vllm_base_url")
        return errors


@dataclass
class REPOConfig(PPOConfig):
    """REPO (PAPER.md): the same loop with the enhanced reward R_total, no KL and no reference."""

    method: ClassVar[str] = "repo"

    use_enhanced_reward: bool = True
    kl_coef: float = 0.0
