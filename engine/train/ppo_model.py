"""One frozen base, several LoRA adapters: the policy, the critic (``value`` + a scalar head) and,
optionally, the reward model (``reward`` + its score head), switched per forward pass.

The PPO reference is the same base with the adapters disabled, so no second copy of the base is
ever made (docs/engine.md, "PPO and REPO: our own loop").

Sequence layout everywhere: ``[left-padded prompt | right-padded reply]``; the hidden state at
position ``P - 1 + t`` predicts reply token ``t`` and is the critic's state before it.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer

POLICY, VALUE, REWARD, REFERENCE = "policy", "value", "reward", "reference"


@dataclass
class ActorCritic:
    """The shared-base model, its tokenizer and the critic's value head."""

    model: PeftModel
    tokenizer: object
    value_head: nn.Linear
    # The KL reference: None = the bare base (adapters off); ``reference`` = a frozen copy of the
    # ``init_adapter`` the policy started from (an SFT or DPO policy is its own reference)
    reference_adapter: str | None = None

    @property
    def base_model(self) -> str:
        """The path or name the frozen base was loaded from."""
        return str(self.model.get_base_model().name_or_path)

    # Frozen heads that read this base's hidden states (the RM's score head): they follow the model
    # to its device when it is sharded (engine/train/sharding.py)
    frozen_heads: list[nn.Module] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        """Where the base, the adapters and the value head live (the loop's tensors follow it)."""
        return self.value_head.weight.device

    @property
    def backbone(self) -> nn.Module:
        # The decoder stack without the LM head: the critic needs hidden states, not 150k-way logits.
        return self.model.get_base_model().model

    @property
    def lm_head(self) -> nn.Module:
        return self.model.get_base_model().get_output_embeddings()

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The policy and value LoRA weights and the value head, in a fixed order (for all-reduce)."""
        lora = [p for name, p in self.model.named_parameters() if _adapter_of(name) in (POLICY, VALUE)]
        return lora + list(self.value_head.parameters())

    def policy_parameters(self) -> list[nn.Parameter]:
        """The actor: the policy adapter's LoRA weights."""
        return [p for name, p in self.model.named_parameters() if _adapter_of(name) == POLICY]

    def critic_parameters(self) -> list[nn.Parameter]:
        """The critic: the value adapter's LoRA weights and the value head."""
        lora = [p for name, p in self.model.named_parameters() if _adapter_of(name) == VALUE]
        return lora + list(self.value_head.parameters())

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything training changes, by name: what a checkpoint must hold to resume exactly. Whole
        tensors even when FSDP shards them (gathered: every rank must call this), so a checkpoint
        resumes with any number of processes and either parallel mode."""
        from engine.train.sharding import full_tensor

        state = {
            n: full_tensor(p.detach()).clone()
            for n, p in self.model.named_parameters()
            if _adapter_of(n) in (POLICY, VALUE)
        }
        state.update(
            {f"value_head.{n}": full_tensor(p.detach()).clone() for n, p in self.value_head.named_parameters()}
        )
        return state

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        """Copy whole tensors (:meth:`trainable_state`) in; a sharded parameter takes its own shard."""
        from engine.train.sharding import shard_like

        params = dict(self.model.named_parameters())
        params.update({f"value_head.{n}": p for n, p in self.value_head.named_parameters()})
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(shard_like(value, params[name]))

    def policy_adapter_state(self) -> dict[str, torch.Tensor]:
        """The policy adapter's weights as whole tensors, keyed as ``model.state_dict()``: what
        :func:`save_policy_adapter` writes when the model is sharded (gathered: every rank calls it)."""
        from engine.train.sharding import full_tensor

        return {n: full_tensor(p.detach()) for n, p in self.model.named_parameters() if _adapter_of(n) == POLICY}


def _adapter_of(param_name: str) -> str | None:
    """``...lora_A.policy.weight`` -> ``policy``; None for base weights."""
    parts = param_name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.startswith("lora_"):
            return parts[i + 1]
    return None


def base_dtype(config, *, device: torch.device | str = "cpu") -> torch.dtype:
    """The frozen base's dtype: ``config.dtype``, where ``auto`` is bfloat16 on CUDA and float32 on the
    CPU (the rule of ``engine.train.common.torch_dtype``, keyed on the loop's device rather than on
    whether the machine has CUDA, so ``PARLEY_DEVICE=cpu`` on a GPU machine stays float32)."""
    if config.dtype == "auto":
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    return getattr(torch, config.dtype)


def build_actor_critic(
    config, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> ActorCritic:
    """Load the base once, freeze it, and add the ``policy`` and ``value`` LoRA adapters and head,
    then move all of it to ``device``.

    Seed torch before calling: the LoRA A matrices and the head are randomly initialised (on the CPU,
    so a seed gives the same starting weights on every device).
    """
    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=dtype)
    base.requires_grad_(False)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )
    init = getattr(config, "init_adapter", None)
    if init:  # the policy starts from an SFT or DPO adapter, with that adapter's own LoRA shape
        init_dir, init_lora, init_weights = read_init_adapter(init, policy_base=config.base_model)
        model = get_peft_model(base, init_lora, adapter_name=POLICY)
        load_adapter_weights(model, init_weights, adapter=POLICY, source=init_dir)
        model.add_adapter(REFERENCE, init_lora)  # frozen: the KL reference is the starting policy
        load_adapter_weights(model, init_weights, adapter=REFERENCE, source=init_dir)
        model.add_adapter(VALUE, lora)
    else:
        model = get_peft_model(base, lora, adapter_name=POLICY)
        model.add_adapter(VALUE, lora)
    hidden = base.config.get_text_config().hidden_size
    value_head = nn.Linear(hidden, 1)  # float32 whatever the base's dtype: values and their loss stay precise
    # A near-zero critic at the start: the first advantages are the rewards themselves, not noise.
    nn.init.normal_(value_head.weight, std=1.0 / (hidden + 1))
    nn.init.zeros_(value_head.bias)
    model.set_adapter(POLICY)
    # No dropout anywhere in RL: the PPO ratio must compare the same deterministic function.
    model.eval()
    # The head reads the backbone's hidden states (cast to float32 in critic_values) on the same device.
    # The LoRA adapters are float32 too (peft upcasts adapters of a bf16/fp16 base), so the optimiser
    # steps in full precision over a frozen low-precision base.
    model.to(device)
    value_head.to(device=device)
    return ActorCritic(
        model=model, tokenizer=tokenizer, value_head=value_head, reference_adapter=REFERENCE if init else None
    )


def read_init_adapter(path: str, *, policy_base: str) -> tuple[Path, LoraConfig, dict[str, torch.Tensor]]:
    """The adapter RL starts from (a directory holding ``adapter_config.json``, or a run directory
    with it under ``adapter/``): where it is, its LoRA shape, its weights. Refuses an adapter trained
    on another base than ``policy_base``."""
    from safetensors.torch import load_file

    from engine.base_identity import check_same_base
    from engine.rundir import ADAPTER_DIR

    root = Path(path)
    adapter_dir = root if (root / "adapter_config.json").is_file() else root / ADAPTER_DIR
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ValueError(f"init_adapter {path}: no adapter_config.json there nor in its {ADAPTER_DIR}/ folder")
    saved = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    check_same_base(
        what=f"The init_adapter {adapter_dir}", trained_on=saved.get("base_model_name_or_path"), policy_base=policy_base
    )
    lora = LoraConfig(
        r=saved["r"],
        lora_alpha=saved["lora_alpha"],
        target_modules=saved["target_modules"],
        lora_dropout=0.0,  # no dropout anywhere in RL
        bias=saved.get("bias", "none"),
        use_rslora=saved.get("use_rslora", False),
        task_type="CAUSAL_LM",
    )
    return adapter_dir, lora, load_file(str(adapter_dir / "adapter_model.safetensors"))


def load_adapter_weights(model: PeftModel, weights: dict[str, torch.Tensor], *, adapter: str, source) -> None:
    """Copy a saved adapter's LoRA weights into ``adapter`` of ``model``; every LoRA weight must be there."""
    from peft import set_peft_model_state_dict

    lora_weights = {k: v for k, v in weights.items() if "lora_" in k}
    result = set_peft_model_state_dict(model, lora_weights, adapter_name=adapter)
    missing = [k for k in result.missing_keys if f".{adapter}." in k]
    if missing or not lora_weights:
        raise ValueError(f"adapter {source} lacks {len(missing)} LoRA weights of {adapter!r}, e.g. {missing[:1]}")


def response_hidden(
    ac: ActorCritic, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, start: int, adapter: str | None
) -> torch.Tensor:
    """Hidden states ``(B, T, H)`` that predict reply tokens ``start..``, under one adapter.

    ``adapter=None`` runs the bare base (the reference). Positions come from the mask because the
    prompts are left-padded.
    """
    if adapter is not None:
        ac.model.set_adapter(adapter)
    position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
    context = ac.model.disable_adapter() if adapter is None else nullcontext()
    with context:
        out = ac.backbone(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        )
    return out.last_hidden_state[:, start - 1 : -1]


def policy_logits(
    ac: ActorCritic,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    start: int,
    temperature: float = 1.0,
    adapter: str | None = POLICY,
) -> torch.Tensor:
    """Next-token logits over the reply, divided by the sampling temperature so that their log-probs
    are those of the distribution the replies were drawn from."""
    hidden = response_hidden(ac, input_ids, attention_mask, start=start, adapter=adapter)
    return ac.lm_head(hidden).float() / temperature


def critic_values(
    ac: ActorCritic, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, start: int
) -> torch.Tensor:
    """V(s_t) for every reply position, ``(B, T)``, from the value adapter and head."""
    hidden = response_hidden(ac, input_ids, attention_mask, start=start, adapter=VALUE)
    return ac.value_head(hidden.to(ac.value_head.weight.dtype)).squeeze(-1).float()


def save_policy_adapter(ac: ActorCritic, out_dir, *, state: dict[str, torch.Tensor] | None = None) -> str:
    """Write the policy adapter in peft's format (what vLLM loads and what the run delivers);
    returns the directory that holds ``adapter_config.json``. ``state``: the adapter's whole weights
    (:meth:`ActorCritic.policy_adapter_state`), needed when FSDP shards the model."""
    kwargs = {} if state is None else {"state_dict": state}
    ac.model.save_pretrained(str(out_dir), selected_adapters=[POLICY], **kwargs)
    ac.tokenizer.save_pretrained(str(out_dir))
    return str(out_dir / POLICY) if (out_dir / POLICY).is_dir() else str(out_dir)
