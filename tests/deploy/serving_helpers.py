"""Pieces of the serving tests: LoRA adapters of the tiny model with distinct weights, and the registry rows
(a base, policies of it) that point at them."""

from __future__ import annotations

import shutil
from pathlib import Path

from registry.services import version_register


def random_adapter(tiny_model: Path, out: Path, *, seed: int) -> Path:
    """A LoRA adapter with random (non-identity) weights: each seed answers differently from the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    config = LoraConfig(r=8, lora_alpha=64, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def copy_adapter(source: Path, out: Path) -> Path:
    shutil.copytree(source, out)
    return out


def base_and_policies(tiny_model: Path, adapters: dict[str, Path]):
    base = version_register(name="tiny-base", kind="base", base_model=str(tiny_model), method="base")
    policies = {
        name: version_register(
            name=name, kind="policy", base_model=str(tiny_model), base=base, adapter_path=str(path), method="sft"
        )
        for name, path in adapters.items()
    }
    return base, policies
