"""DPO on preference pairs with TRL's ``DPOTrainer`` and a LoRA adapter.

The reference policy is the base model itself with the adapter disabled (``ref_model=None`` on a PEFT
model): no second copy of the weights, as docs/engine.md asks for the 32B case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trl import DPOConfig as TRLDPOConfig
from trl import DPOTrainer

from engine.config import DPOConfig
from engine.train.common import (
    load_base_model,
    load_tokenizer,
    lora_config,
    run_trainer,
    train_eval_rows,
    trl_arguments,
)

COLUMNS = ("prompt", "chosen", "rejected")


def train(config: DPOConfig, *, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    run_dir = Path(run_dir)
    args = TRLDPOConfig(
        **trl_arguments(config, run_dir),
        max_length=config.max_prompt_length + config.max_response_length,
        beta=config.beta,
        loss_type=[config.loss_type],
    )
    train_rows, held_out_rows = train_eval_rows(config, columns=COLUMNS)
    trainer = DPOTrainer(
        model=load_base_model(config),
        ref_model=None,  # with peft_config: the reference is the base with the adapter disabled
        args=args,
        train_dataset=train_rows,
        eval_dataset=held_out_rows,
        processing_class=load_tokenizer(config),
        peft_config=lora_config(config),
    )
    return run_trainer(trainer, config=config, run_dir=run_dir, resume=resume)
