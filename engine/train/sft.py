"""SFT on gold agent replies with TRL's ``SFTTrainer`` and a LoRA adapter.

Rows are TRL prompt-completion conversations (``engine.prompting.sft_row``): the loss covers the
completion (the agent's reply) only, so the model learns to answer, not to imitate the hotel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trl import SFTConfig as TRLSFTConfig
from trl import SFTTrainer

from engine.config import SFTConfig
from engine.train.common import (
    load_base_model,
    load_tokenizer,
    lora_config,
    run_trainer,
    train_eval_rows,
    trl_arguments,
)

COLUMNS = ("prompt", "completion")


def train(config: SFTConfig, *, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    run_dir = Path(run_dir)
    tokenizer = load_tokenizer(config)
    args = TRLSFTConfig(
        **trl_arguments(config, run_dir),
        max_length=config.max_prompt_length + config.max_response_length,
        completion_only_loss=config.completion_only_loss,
        packing=False,
    )
    train_rows, held_out_rows = train_eval_rows(config, columns=COLUMNS)
    trainer = SFTTrainer(
        model=load_base_model(config),
        args=args,
        train_dataset=train_rows,
        eval_dataset=held_out_rows,
        processing_class=tokenizer,
        peft_config=lora_config(config),
    )
    return run_trainer(trainer, config=config, run_dir=run_dir, resume=resume)
