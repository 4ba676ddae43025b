"""Configs for our own PPO / REPO loop (``engine.train.ppo``): the PPO baseline and REPO.

REPO (docs/method.md) is PPO with the enhanced reward, no KL penalty and no reference model; the PPO
baseline is the same loop with the RM score alone as reward. Both default to ``kl_coef = 0`` so that
the ablation differs only in the reward; ``kl_coef > 0`` penalises the KL to the reference (the base
with the adapters disabled). Every field carries its ``metadata["help"]`` (see
engine/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.config import RLConfig

# parallel fsdp's switches (engine/train/sharding.py, shard_actor_critic; docs/engine.md, "Sharding")
FSDP_UNITS = ("layer", "sublayer", "linear")
FSDP_PREFETCH = {"auto": None, "on": True, "off": False}  # shard_actor_critic's prefetch (None: by device)

_TINY: dict[str, Any] = {
    # Seconds-long runs for the mechanics tests; the learning demo adds a larger batch and shorter
    # prompts on top of it (engine/train/compare.py, LEARNING_DEMO; docs/engine.md, "Does it learn?").
    "per_device_batch_size": 8,
    "learning_rate": 2e-3,
    "warmup_steps": 0,  # a handful of steps: no warm-up
    "max_steps": 8,
    "save_every": 4,
    "max_response_length": 24,
    "probe_every": 4,
    "lora_dropout": 0.0,
    # Monte-Carlo returns: one terminal reward and a critic that a few steps cannot train, so lam 0.95
    # would scale each token's credit by lam ** (tokens to the end) and mix in the critic's noise.
    "lam": 1.0,
    # One pass, one mini-batch: the CPU tests' runs stay seconds long and the learning demo is the one
    # measured in docs/engine.md; the trust region (several mini-batches, target_kl) is tested apart.
    "ppo_epochs": 1,
    "num_mini_batches": 1,
}


@dataclass
class PPOConfig(RLConfig):
    """The PPO baseline: actor-critic with LoRA on one frozen base, GAE, clipped losses, KL penalty.

    The batch of one step is ``per_device_batch_size x gradient_accumulation_steps x processes``
    prompts, one reply each; each batch is reused for ``ppo_epochs`` passes in ``num_mini_batches``.
    """

    method: ClassVar[str] = "ppo"
    TINY: ClassVar[dict[str, Any]] = _TINY
    supports_fsdp: ClassVar[bool] = True  # engine/train/sharding.py

    use_enhanced_reward: bool = field(
        default=False, metadata={"help": "The paper's PPO baseline is rewarded by R_model alone (false)."}
    )
    # -- PPO (Schulman et al. 2017) ----------------------------------------------------------------
    ppo_epochs: int = field(
        default=2,
        metadata={
            "help": "Passes over each rollout batch (our choice, the paper gives none): with several passes or "
            "mini-batches the probability ratio leaves 1 and the clip is active."
        },
    )
    num_mini_batches: int = field(
        default=4,
        metadata={
            "help": "Mini-batches per pass, one optimiser step each; must divide the rollout batch "
            "(per_device_batch_size x gradient_accumulation_steps)."
        },
    )
    target_kl: float | None = field(
        default=0.02,
        metadata={
            "help": "Stop the passes over a rollout batch once a mini-batch's approximate KL to the rollout "
            "policy exceeds 1.5 x this (Stable-Baselines3's rule); null = never stop early."
        },
    )
    critic_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the critic (value adapter and head), its own optimiser group; null = "
            "learning_rate. OpenRLHF's example: actor 5e-7, critic 9e-6."
        },
    )
    gamma: float = field(default=1.0, metadata={"help": "Discount within a reply; 1 = none (one reward at the end)."})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda; 1 = Monte-Carlo returns."})
    lam_until_critic_explains: bool = field(
        default=True,
        metadata={
            "help": "Use lambda 1 (Monte-Carlo returns, every token credited with the reply's reward) on a batch "
            "until the critic's values explain its returns (explained variance > 0), then lam: a fresh critic's "
            "noise does not decide the early tokens' credit. Logged as ppo/lam."
        },
    )
    critic_init: str = field(
        default="rm",
        metadata={
            "help": "rm: when the RM sits on the policy's base (rm_on_shared_base), the critic starts as a copy of "
            "the RM's adapter and score head (InstructGPT, OpenRLHF), so it predicts rewards from step 1; "
            "fresh: a new value adapter and a near-zero head."
        },
    )
    clip_range: float = field(default=0.2, metadata={"help": "Clip of the policy's probability ratio (PPO's epsilon)."})
    clip_range_value: float = field(
        default=0.2, metadata={"help": "Clip of the value estimate around its rollout-time value."}
    )
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss (TRL's old PPO default)."})
    ent_coef: float = field(
        default=0.0, metadata={"help": "Weight of the entropy bonus; the entropy is logged either way."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradients are clipped to this global norm."})
    whiten_advantages: bool = field(
        default=True, metadata={"help": "Normalise the advantages over the batch (mean 0, variance 1)."}
    )
    # -- memory (engine/train/memory.py; docs/engine.md, "Memory model") ----------------------------
    gradient_checkpointing: bool = field(
        default=True,
        metadata={
            "help": "Recompute the decoder layers' activations in the update's backward pass (non-reentrant, "
            "training mode with dropout 0): less memory, about one more forward pass of time."
        },
    )
    logprob_chunk_size: int = field(
        default=64,
        metadata={
            "help": "Reply positions per chunk of the LM head's logits and log-probs, so no whole "
            "(batch, reply, vocabulary) float32 tensor is held; 0 = all at once."
        },
    )
    fsdp_unit: str = field(
        default="layer",
        metadata={
            "help": "parallel fsdp: what one FSDP group is in each decoder layer, the weights gathered at once: "
            "layer, sublayer (attention and MLP apart) or linear (each projection apart). Finer units hold "
            "less gathered during the step, for more, smaller all-gathers."
        },
    )
    fsdp_prefetch: str = field(
        default="auto",
        metadata={
            "help": "parallel fsdp: gather the next unit while this one computes (on), or only the unit in "
            "use (off: one unit less held); auto = on for CUDA, where it overlaps, off on the CPU, where "
            "every collective is synchronous and it overlaps nothing."
        },
    )
    # -- the reference and KL ----------------------------------------------------------------------
    kl_coef: float = field(
        default=0.0,
        metadata={
            "help": "Per-token KL penalty against the reference (the base, adapters disabled); 0 = no "
            "penalty and no reference. 0 by default for the PPO baseline as for REPO, so that the two "
            "differ only in the reward (docs/method.md, deviations)."
        },
    )
    kl_estimator: str = field(
        default="k1", metadata={"help": "KL estimator, k1 or k3 (Schulman 2020); k1 in the reward as in InstructGPT."}
    )
    log_kl: bool = field(
        default=True,
        metadata={"help": "Log the KL to the initial policy even when kl_coef = 0 (one extra forward pass)."},
    )
    init_adapter: str | None = field(
        default=None,
        metadata={
            "help": "Start the policy from this LoRA adapter (an SFT or DPO run's adapter/ folder, or the run "
            "folder) instead of the bare base; it must have been trained on base_model (checked), and its frozen "
            "copy is the KL reference. null = start from the base."
        },
    )
    # -- rewards -----------------------------------------------------------------------------------
    missing_eos_penalty: float | None = field(
        default=None,
        metadata={"help": "Subtracted from the reward of a reply cut at max_response_length; null = none."},
    )
    reward_scale: float = field(default=1.0, metadata={"help": "Multiplies the reward before GAE."})
    rm_on_shared_base: bool = field(
        default=True,
        metadata={"help": "Load the RM as a third adapter (reward) on the policy's base instead of a second model."},
    )
    r_model_without_rm: float | None = field(
        default=1.0,
        metadata={
            "help": "With no RM, enhance this constant R_model so the judge's and the rules' points still "
            "rank replies (R_total = c (1 + E_enh / n)); null = R_model 0, nothing to learn."
        },
    )
    # -- rollouts ----------------------------------------------------------------------------------
    rollout_backend: str = field(
        default="hf",
        metadata={"help": "hf (transformers generate on the trainer's model) or vllm (an OpenAI-compatible server)."},
    )
    vllm_base_url: str = field(
        default="",
        metadata={
            "help": "The rollout server for vllm, e.g. http://host:8000/v1 (needs --enable-lora and "
            "runtime LoRA updating)."
        },
    )
    vllm_lora_name: str = field(
        default="policy", metadata={"help": "The adapter name the trainer pushes to the vLLM server after each update."}
    )
    drift_tolerance: float = field(
        default=0.1,
        metadata={"help": "Largest mean |trainer - vLLM| log-prob on the checked tokens before the run stops."},
    )
    sampled_drift_tolerance: float | None = field(
        default=0.005,
        metadata={
            "help": "The sampled drift check, every step: the rollout engine's log-probs of the tokens it sampled "
            "(after its temperature, top-p and anything else it applied) against the trainer's recomputed "
            "log-probs of the same tokens at the training temperature. The step fails when their mean difference, "
            "an estimate of KL(sampler || policy), exceeds this (a repetition penalty, a top-k or a stale adapter "
            "on the sampler's side); logged as rollout/sampled_kl, with rollout/sampled_drift (mean |delta log p|). "
            "With top_p < 1 the nucleus itself counts as drift. null = no check."
        },
    )
    drift_check_tokens: int = field(
        default=32, metadata={"help": "Greedy tokens compared after each push to catch stale weights on the server."}
    )
    # -- training-time probe ----------------------------------------------------------------------
    probe_size: int = field(
        default=20, metadata={"help": "Rows of the probe set answered at each probe (the paper: 20 dialogues)."}
    )

    def errors(self) -> list[str]:
        errors = super().errors()
        if self.critic_init not in ("rm", "fresh"):
            errors.append("critic_init must be 'rm' or 'fresh'")
        if self.ppo_epochs < 1 or self.num_mini_batches < 1:
            errors.append("ppo_epochs and num_mini_batches must be >= 1")
        rollout_batch = self.per_device_batch_size * self.gradient_accumulation_steps
        if rollout_batch % self.num_mini_batches:
            errors.append(
                "the rollout batch (per_device_batch_size x gradient_accumulation_steps) must be a multiple "
                "of num_mini_batches"
            )
        if self.critic_learning_rate is not None and self.critic_learning_rate <= 0:
            errors.append("critic_learning_rate must be > 0 or null")
        if self.target_kl is not None and self.target_kl <= 0:
            errors.append("target_kl must be > 0 or null")
        if not 0 <= self.gamma <= 1 or not 0 <= self.lam <= 1:
            errors.append("gamma and lam must be in [0, 1]")
        if self.clip_range <= 0 or self.clip_range_value <= 0:
            errors.append("clip_range and clip_range_value must be > 0")
        if self.logprob_chunk_size < 0:
            errors.append("logprob_chunk_size must be >= 0 (0 = no chunking)")
        if self.fsdp_unit not in FSDP_UNITS:
            errors.append(f"fsdp_unit must be one of {', '.join(FSDP_UNITS)}")
        if self.fsdp_prefetch not in FSDP_PREFETCH:
            errors.append(f"fsdp_prefetch must be one of {', '.join(FSDP_PREFETCH)}")
        if self.kl_coef < 0:
            errors.append("kl_coef must be >= 0")
        if self.kl_estimator not in ("k1", "k3"):
            errors.append("kl_estimator must be 'k1' or 'k3'")
        if self.sampled_drift_tolerance is not None and self.sampled_drift_tolerance <= 0:
            errors.append("sampled_drift_tolerance must be > 0 or null")
        if self.rollout_backend not in ("hf", "vllm"):
            errors.append("rollout_backend must be 'hf' or 'vllm'")
        if self.rollout_backend == "vllm" and not self.vllm_base_url:
            errors.append("rollout_backend 'vllm' needs vllm_base_url")
        return errors


@dataclass
class REPOConfig(PPOConfig):
    """REPO (docs/method.md): the same loop with the enhanced reward R_total, no KL and no reference."""

    method: ClassVar[str] = "repo"

    use_enhanced_reward: bool = field(
        default=True, metadata={"help": "REPO trains on R_total, the enhanced reward (false = R_model alone)."}
    )
    kl_coef: float = field(
        default=0.0,
        metadata={"help": "Per-token KL penalty against the base; REPO has none (0), so no reference is computed."},
    )
