"""The reward model as a third adapter on the shared base: ``reward`` LoRA + its score head.

A run of ``engine.rewards.rm`` saves a sequence-classification LoRA (``adapter/``, with the trained
``score`` head as a module to save) and ``rm_meta.json`` (the fixed centring offset). Rather than
loading a second copy of the base for it (``RewardModelScorer.from_dir``), its LoRA weights go into
the policy's model as the ``reward`` adapter and its head into a small Linear; the rewards
engineer's ``RewardModelScorer`` then scores through that, with the same tokenisation and offset.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from peft import LoraConfig, set_peft_model_state_dict
from safetensors.torch import load_file
from torch import nn

from engine.base_identity import check_same_base
from engine.train.ppo_model import POLICY, REWARD, VALUE, ActorCritic

SCORE_KEY = "base_model.model.score.weight"


class SharedBaseRewardModel(nn.Module):
    """Looks like a sequence-classification model (``.logits`` of shape (B, 1)) to the scorer, but
    runs the shared base under the ``reward`` adapter and reads the score at each row's last token."""

    def __init__(self, ac: ActorCritic, head: nn.Linear):
        super().__init__()
        self.head = head
        self._ac = ac  # not a submodule: the base belongs to the actor-critic

    @torch.no_grad()
    def forward(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        model = self._ac.model
        model.set_adapter(REWARD, inference_mode=True)
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        hidden = self._ac.backbone(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids
        ).last_hidden_state
        last = attention_mask.sum(dim=1) - 1  # rows are right-padded by the scorer
        rows = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        logits = self.head(rows.to(self.head.weight.dtype))
        return SimpleNamespace(logits=logits.float())


def attach_reward_model(ac: ActorCritic, rm_dir: str | Path, *, init_critic: bool = False):
    """Load an RM run directory into ``ac`` as the ``reward`` adapter; returns its scorer.

    ``init_critic``: the critic (the ``value`` adapter and head) starts as a copy of the RM, so that
    it predicts the reward from the first step: its adapter is rebuilt in the RM's LoRA shape with
    the RM's weights, and the value head is the RM's score head with the centring offset as a
    negative bias (V at a reply's last token = R_model). Call before the optimiser is built."""
    from transformers import AutoTokenizer

    from engine.rewards.rm import RewardModelScorer
    from engine.rundir import ADAPTER_DIR, RM_META_FILE

    rm_dir = Path(rm_dir)
    meta = json.loads((rm_dir / RM_META_FILE).read_text(encoding="utf-8"))
    # the RM's LoRA and head only mean something on the weights they were trained on
    check_same_base(
        what=f"The reward model {rm_dir}",
        trained_on=meta.get("base_model"),
        fingerprint=meta.get("base_fingerprint"),
        policy_base=ac.base_model,
    )
    adapter_dir = rm_dir / meta.get("adapter", ADAPTER_DIR)
    saved = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    lora = LoraConfig(
        r=saved["r"],
        lora_alpha=saved["lora_alpha"],
        target_modules=saved["target_modules"],
        lora_dropout=0.0,
        bias=saved.get("bias", "none"),
        use_rslora=saved.get("use_rslora", False),
        task_type="CAUSAL_LM",
    )
    ac.model.add_adapter(REWARD, lora)
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    score = weights.pop(SCORE_KEY)
    result = set_peft_model_state_dict(ac.model, weights, adapter_name=REWARD)
    missing = [k for k in result.missing_keys if f".{REWARD}." in k]
    if missing:
        raise ValueError(f"RM adapter {adapter_dir} lacks {len(missing)} LoRA weights, e.g. {missing[0]}")
    for name, param in ac.model.named_parameters():
        if f".{REWARD}." in name:
            param.requires_grad_(False)
    if init_critic:
        _critic_from_rm(ac, lora, weights, score=score, offset=float(meta["offset"]))
    head = nn.Linear(score.shape[1], 1, bias=False)
    head.weight.data.copy_(score)
    head.requires_grad_(False)
    # Beside the base's hidden states, in float32 like the value head (the forward casts the hidden
    # states); the scorer sends its inputs to the device of this head.
    head.to(device=ac.device, dtype=ac.value_head.weight.dtype)
    ac.frozen_heads.append(head)
    return RewardModelScorer(
        model=SharedBaseRewardModel(ac, head),
        tokenizer=AutoTokenizer.from_pretrained(adapter_dir),
        offset=meta["offset"],
        max_length=meta["max_length"],
        chat_template_kwargs=meta.get("chat_template_kwargs", {}),
    )


def _critic_from_rm(ac: ActorCritic, lora: LoraConfig, weights: dict, *, score: torch.Tensor, offset: float) -> None:
    """Replace the fresh ``value`` adapter by a trainable copy of the RM's, and the head by its score head."""
    model = ac.model
    model.set_adapter(POLICY)
    model.delete_adapter(VALUE)
    model.add_adapter(VALUE, lora)
    result = set_peft_model_state_dict(model, weights, adapter_name=VALUE)
    missing = [k for k in result.missing_keys if f".{VALUE}." in k]
    if missing:
        raise ValueError(f"the RM's adapter lacks {len(missing)} LoRA weights for the critic, e.g. {missing[0]}")
    model.to(ac.device)  # the new adapter where the others are (float32, like them)
    model.set_adapter(POLICY)
    with torch.no_grad():
        ac.value_head.weight.copy_(score.to(ac.value_head.weight))
        ac.value_head.bias.fill_(-offset)
