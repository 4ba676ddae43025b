"""What the TRL-based trainers (SFT, DPO, GRPO; RM in engine.rewards) share: data, model, LoRA,
TRL arguments from our config, and the run loop that writes the run directory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from engine.config import ConfigError, TrainConfig
from engine.rundir import (
    ADAPTER_DIR,
    CHECKPOINTS_DIR,
    TRL_LAYOUT,
    Checkpoint,
    RunWriter,
    is_main_process,
    latest_checkpoint,
    run_result,
    trim_metrics,
)
from engine.train.callbacks import RunWriterCallback


# ---------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------
def read_jsonl(paths: list[str]) -> list[dict]:
    rows: list[dict] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigError(f"dataset not found: {path}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
    return rows


def load_rows(
    paths: list[str],
    *,
    columns: tuple[str, ...],
    json_columns: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    chat_template_kwargs: dict | None = None,
) -> Dataset:
    """A ``datasets.Dataset`` of the ``columns`` TRL needs from JSONL snapshot(s), and the
    ``optional`` ones (null where a row lacks them: files exported before they existed).
    ``chat_template_kwargs`` (when any) go into every row's ``chat_template_kwargs`` column, which
    TRL's SFT, DPO and reward trainers pass to the chat template.

    Other columns (ids, provenance, margins) are dropped. ``json_columns`` travel as JSON strings:
    case dicts differ in shape from row to row, which Arrow would otherwise fill with nulls.
    """
    rows = read_jsonl(paths)
    if not rows:
        raise ConfigError(f"dataset is empty: {', '.join(paths)}")
    for number, row in enumerate(rows, 1):
        missing = [c for c in columns + json_columns if c not in row]
        if missing:
            raise ConfigError(f"dataset row {number} lacks {', '.join(missing)} (columns: {', '.join(row)})")
    return Dataset.from_list(
        [
            {
                **{c: row[c] for c in columns},
                **{c: row.get(c) for c in optional},
                **{f"{c}_json": json.dumps(row[c], sort_keys=True) for c in json_columns},
                **({"chat_template_kwargs": dict(chat_template_kwargs)} if chat_template_kwargs else {}),
            }
            for row in rows
        ]
    )


def train_eval_rows(config, *, columns: tuple[str, ...]) -> tuple[Dataset, Dataset | None]:
    """The training rows and the held-out rows (``None`` without an ``eval_dataset``) of a TRL job,
    with the config's chat-template switches in every row (SFT and DPO alike)."""
    from engine.prompting import template_kwargs

    switches = template_kwargs(config.chat_template_kwargs)
    train = load_rows(config.datasets, columns=columns, chat_template_kwargs=switches)
    if not config.eval_dataset:
        return train, None
    return train, load_rows([config.eval_dataset], columns=columns, chat_template_kwargs=switches)


# ---------------------------------------------------------------------------------------------------
# model, tokenizer, LoRA
# ---------------------------------------------------------------------------------------------------


def torch_dtype(config: TrainConfig) -> torch.dtype:
    if config.dtype == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, config.dtype)


def load_tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    tok = AutoTokenizer.from_pretrained(config.base_model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base_model(config: TrainConfig) -> PreTrainedModel:
    path = Path(config.base_model)
    if not path.exists() and (path.is_absolute() or config.base_model.startswith(".")):
        raise ConfigError(f"base_model not found: {config.base_model}")
    return AutoModelForCausalLM.from_pretrained(config.base_model, dtype=torch_dtype(config))


def lora_config(config: TrainConfig, *, task_type: str = "CAUSAL_LM") -> LoraConfig:
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type=task_type,
    )


# ---------------------------------------------------------------------------------------------------
# TRL arguments and the run
# ---------------------------------------------------------------------------------------------------
def trl_arguments(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """The ``TrainingArguments`` fields every TRL config takes, from our config."""
    dtype = torch_dtype(config)
    on_cpu = not torch.cuda.is_available()
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return {
        "output_dir": str(run_dir / CHECKPOINTS_DIR),  # TRL_LAYOUT: checkpoints/checkpoint-N
        "learning_rate": config.learning_rate,
        "warmup_steps": config.warmup_steps,
        "per_device_train_batch_size": config.per_device_batch_size,
        "per_device_eval_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "num_train_epochs": config.num_epochs,
        "max_steps": config.max_steps or -1,
        "seed": config.seed,
        "data_seed": config.seed,
        "save_strategy": "steps",
        "save_steps": config.save_every,
        "save_total_limit": 2,
        "logging_steps": config.logging_every,
        "logging_first_step": True,
        "report_to": "none",
        "disable_tqdm": True,  # RunWriter draws the one bar
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "gradient_checkpointing": config.gradient_checkpointing,
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,
        # The Trainer treats a CPU run as single-process unless told otherwise: under torchrun on CPUs
        # (the tests' 2-process runs) it must use DDP over gloo, or each rank would train alone.
        "use_cpu": on_cpu,
        "ddp_backend": "gloo" if on_cpu and distributed else None,
    }


def run_trainer(
    trainer: Any,
    *,
    config: TrainConfig,
    run_dir: Path,
    resume: bool,
    extra_metrics: Callable[[], dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Train with progress in ``run_dir``, save the adapter to ``run_dir/adapter``, write the result."""
    writer = RunWriter(run_dir, total_steps=config.max_steps or 0, is_main=is_main_process())
    callback = RunWriterCallback(writer, extra_metrics=extra_metrics)
    trainer.add_callback(callback)
    checkpoint = resume_point(run_dir, resume=resume)
    with writer:
        trainer.train(resume_from_checkpoint=str(checkpoint.path) if checkpoint else None)
        evaluation = trainer.evaluate() if trainer.eval_dataset is not None else {}
        adapter = run_dir / ADAPTER_DIR
        trainer.save_model(str(adapter))  # rank 0 writes; the PEFT model saves only the adapter
        result = run_result(
            method=config.method,
            steps=trainer.state.global_step,
            adapter=str(adapter),
            resumed_from=checkpoint.step if checkpoint else 0,
            metrics={**callback.last, **callback.summary, **evaluation},
            base_model=config.base_model,
            world_size=trainer.args.world_size,
        )
        return writer.finish(result)


def resume_point(run_dir: Path, *, resume: bool) -> Checkpoint | None:
    """The TRL checkpoint a resumed run continues from (None: start fresh); the metrics the killed run
    logged past it are dropped, since the resumed run logs those steps again."""
    checkpoint = latest_checkpoint(run_dir, layout=TRL_LAYOUT) if resume else None
    if checkpoint is not None and is_main_process():
        trim_metrics(run_dir, after_step=checkpoint.step)
    return checkpoint
