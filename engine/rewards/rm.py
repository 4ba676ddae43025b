"""The reward model (RM): Bradley-Terry training with TRL's ``RewardTrainer``, a fixed centring offset,
and an in-process scorer.

docs/method.md: "RM - trained on preference pairs; the primary reward. Train with a Bradley-Terry pairwise
loss and keep it centred (its sign matters below)": in REPO, R_total keeps the sign of R_model and the
judge can only scale it, so an RM that scores everything positive would turn every deduction into a
mere smaller bonus. Centring is two-fold: ``center_rewards_coefficient`` pulls scores toward 0 while
training, and one offset, calibrated once on a reference set after training (never per batch, which
would make a reply's reward depend on its batch-mates), is subtracted at scoring time.

A run directory holds ``adapter/`` (LoRA + the trained ``score`` head, ``modules_to_save``), the
tokenizer, and ``rm_meta.json`` (offset, base model, held-out pairwise accuracy, max length).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from engine.base_identity import base_fingerprint
from engine.config import RMConfig
from engine.prompting import template_kwargs
from engine.rundir import ADAPTER_DIR, RM_META_FILE, RunWriter, is_main_process, run_result, write_json_atomic

HELDOUT_FRACTION = 0.2  # our choice: held out from the training rows when no eval_dataset is given


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Share of pairs whose chosen reply scores above its rejected one (ties count as wrong).

    >>> pairwise_accuracy([1.0, 0.2, 3.0], [0.0, 0.5, 3.0])
    0.3333333333333333
    """
    if not chosen:
        return float("nan")
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(chosen)


def calibrate_offset(scorer: RewardModelScorer, *, prompts: list[list[dict]], replies: list[str]) -> float:
    """The fixed offset that centres the RM at 0 on a reference set: the mean raw score there."""
    raw = scorer.raw_scores(prompts=prompts, replies=replies)
    return float(sum(raw) / len(raw)) if raw else 0.0


class RewardModelScorer:
    """Scores (prompt messages, reply) pairs with base + RM adapter: ``score`` returns centred floats.

    The text scored is the chat template over ``prompt + [assistant reply]``, tokenised exactly as TRL's
    ``RewardTrainer`` tokenised the training rows; over-long inputs drop their oldest whole turns and
    keep the system message with the case, the latest turns and the reply (``encode``).
    """

    def __init__(
        self,
        *,
        model: Any,
        tokenizer: Any,
        offset: float = 0.0,
        max_length: int = 1024,
        batch_size: int | None = None,
        chat_template_kwargs: dict | None = None,
    ):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.offset, self.max_length = offset, max_length
        self.template_kwargs = template_kwargs(chat_template_kwargs)  # as the RM was trained
        self.truncated = 0  # inputs over max_length, shortened by dropping their oldest turns
        if batch_size is None:
            # benchmarks/bench_rm_scoring.py: on one CPU thread batches of 16 were 0.84x one at a time
            # (padding and masks, no idle compute to fill); a GPU is what batches are for.
            first = next(iter(model.parameters()), None)
            batch_size = 16 if first is not None and first.is_cuda else 1
        self.batch_size = batch_size

    @classmethod
    def from_dir(cls, path: str | Path, *, batch_size: int | None = None, device: Any = None) -> RewardModelScorer:
        """Load a trained RM run directory (``rm_meta.json`` + ``adapter/``), onto ``device`` if given."""
        from peft import PeftModel
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        meta = json.loads((path / RM_META_FILE).read_text(encoding="utf-8"))
        tokenizer = AutoTokenizer.from_pretrained(path / ADAPTER_DIR)
        base = AutoModelForSequenceClassification.from_pretrained(
            meta["base_model"], num_labels=1, dtype=getattr(torch, meta.get("dtype", "float32"))
        )
        base.config.pad_token_id = tokenizer.pad_token_id
        model = PeftModel.from_pretrained(base, path / ADAPTER_DIR)
        if device is not None:
            model.to(device)
        return cls(
            model=model,
            tokenizer=tokenizer,
            offset=meta["offset"],
            max_length=meta["max_length"],
            batch_size=batch_size,
            # the switches it was trained with; an RM from before they were recorded was trained with none
            chat_template_kwargs=meta.get("chat_template_kwargs", {}),
        )

    def encode(self, prompt: list[dict], reply: str) -> list[int]:
        """The tokens scored; an over-long dialogue drops its oldest whole turns first and keeps the
        system message with the case and the reply (``truncated`` counts such inputs); only when those
        alone do not fit are the last ``max_length`` tokens kept."""
        from trl.data_utils import _tokenize  # the RewardTrainer's own tokenisation of a conversation

        answer = {"role": "assistant", "content": reply}
        messages = list(prompt)
        ids = _tokenize(self.tokenizer, messages + [answer], **self.template_kwargs)["input_ids"]
        if len(ids) <= self.max_length:
            return ids
        self.truncated += 1
        head = 1 if messages and messages[0].get("role") == "system" else 0
        while len(messages) > head + 1:
            messages = messages[:head] + messages[head + 1 :]
            ids = _tokenize(self.tokenizer, messages + [answer], **self.template_kwargs)["input_ids"]
            if len(ids) <= self.max_length:
                return ids
        return ids[-self.max_length :]

    @torch.inference_mode()
    def raw_scores(self, *, prompts: list[list[dict]], replies: list[str]) -> list[float]:
        """Uncentred scores, ``batch_size`` sequences per forward pass.

        Sequences are batched in order of length (then put back), so a batch pads to similar lengths
        instead of to the longest prompt of the whole set.
        """
        encoded = [self.encode(p, r) for p, r in zip(prompts, replies, strict=True)]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        pad = self.tokenizer.pad_token_id
        device = next(self.model.parameters()).device
        out = [0.0] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                input_ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                attention[row, : len(encoded[i])] = 1
            logits = self.model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
            for i, value in zip(chunk, logits[:, 0].float().cpu().tolist(), strict=True):
                out[i] = value
        return out

    def score(self, *, prompts: list[list[dict]], replies: list[str]) -> list[float]:
        """R_model: raw score minus the calibrated offset."""
        return [s - self.offset for s in self.raw_scores(prompts=prompts, replies=replies)]


# ---------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------
def _pairs(rows: list[dict], *, chat_template_kwargs: dict | None = None) -> list[dict]:
    """TRL's preference rows; ``chat_template_kwargs`` (when any) travel in the column TRL's trainers
    pass to the chat template."""
    keys = ("prompt", "chosen", "rejected")
    switches = {"chat_template_kwargs": dict(chat_template_kwargs)} if chat_template_kwargs else {}
    return [
        {**{k: r[k] for k in keys}, **({"margin": float(r["margin"])} if "margin" in r else {}), **switches}
        for r in rows
    ]


def _dialogue_key(row: dict) -> str:
    """Which conversation a preference row comes from: its ``dialogue_id`` when the export has one,
    else its first message (the system message with the case), which every turn of the same
    conversation repeats (two conversations on one case fall together: harmless for a split)."""
    if row.get("dialogue_id") is not None:
        return str(row["dialogue_id"])
    prompt = row.get("prompt")
    return json.dumps(prompt[:1] if isinstance(prompt, list) else prompt, sort_keys=True, ensure_ascii=False)


def _split(rows: list[dict], *, seed: int) -> tuple[list[dict], list[dict]]:
    """Train and held-out rows, split by *dialogue*: turns of one conversation share its case and
    history, so a row-level split would score the RM on near-copies of its training rows.

    >>> rows = [{"dialogue_id": d, "prompt": [], "i": i} for d in "aabbccddee" for i in range(2)]
    >>> train, held = _split(rows, seed=0)
    >>> {r["dialogue_id"] for r in train} & {r["dialogue_id"] for r in held}, len(held) >= 1
    (set(), True)
    """
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(_dialogue_key(row), []).append(row)
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    target = max(1, int(len(rows) * HELDOUT_FRACTION)) if len(groups) > 1 else 0
    held: list[dict] = []
    while keys and len(held) < target and len(keys) > 1:
        held += groups[keys.pop()]
    return [r for k in keys for r in groups[k]], held


def _reply(messages: list[dict]) -> str:
    return messages[-1]["content"] if isinstance(messages, list) else str(messages)


def _heldout_accuracy(scorer: RewardModelScorer, rows: list[dict]) -> float:
    prompts = [r["prompt"] for r in rows]
    chosen = scorer.raw_scores(prompts=prompts, replies=[_reply(r["chosen"]) for r in rows])
    rejected = scorer.raw_scores(prompts=prompts, replies=[_reply(r["rejected"]) for r in rows])
    return pairwise_accuracy(chosen, rejected)


def _reference(rows: list[dict]) -> tuple[list[list[dict]], list[str]]:
    """Both replies of every reference pair: the centre lies between good and bad replies."""
    prompts = [r["prompt"] for r in rows for _ in (0, 1)]
    replies = [_reply(r[side]) for r in rows for side in ("chosen", "rejected")]
    return prompts, replies


def train_reward_model(config: RMConfig, *, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Train the RM on preference rows, report held-out pairwise accuracy, calibrate and store the offset.

    Rows are TRL's conversational preference format ``{"prompt": [...], "chosen": [assistant msg],
    "rejected": [assistant msg], "margin"?}``. ``python -m engine train rm --config ...`` calls this.
    """
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from engine.train.callbacks import RunWriterCallback
    from engine.train.common import load_tokenizer, lora_config, read_jsonl, resume_point, torch_dtype, trl_arguments

    run_dir = Path(run_dir)
    # ---- data: training rows, held-out rows, reference rows for the offset --------------------------
    rows = read_jsonl(config.datasets)
    if config.eval_dataset:
        train_rows, heldout = rows, read_jsonl([config.eval_dataset])
    else:
        train_rows, heldout = _split(rows, seed=config.seed)
    reference = read_jsonl([config.calibration_dataset]) if config.calibration_dataset else heldout or train_rows
    max_length = config.max_prompt_length + config.max_response_length
    switches = template_kwargs(config.chat_template_kwargs)  # the chat template's, in training and scoring
    # ---- model: base + LoRA, the fresh score head trained and saved with the adapter ------------------
    tokenizer = load_tokenizer(config)
    dtype = torch_dtype(config)
    model = AutoModelForSequenceClassification.from_pretrained(config.base_model, num_labels=1, dtype=dtype)
    model.config.pad_token_id = tokenizer.pad_token_id
    peft_config = lora_config(config, task_type="SEQ_CLS")
    peft_config.modules_to_save = ["score"]  # else the random head would stay random and be lost on save
    args = RewardConfig(
        **trl_arguments(config, run_dir),
        max_length=max_length,
        center_rewards_coefficient=config.center_rewards_coefficient,
    )
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_pairs(train_rows, chat_template_kwargs=switches)),
        eval_dataset=Dataset.from_list(_pairs(heldout, chat_template_kwargs=switches)) if heldout else None,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    # ---- train, then measure and centre on the trained model ---------------------------------------
    writer = RunWriter(run_dir, total_steps=config.max_steps or 0, is_main=is_main_process())
    callback = RunWriterCallback(writer)
    trainer.add_callback(callback)
    checkpoint = resume_point(run_dir, resume=resume)
    with writer:
        trainer.train(resume_from_checkpoint=str(checkpoint.path) if checkpoint else None)
        scorer = RewardModelScorer(
            model=trainer.model, tokenizer=tokenizer, max_length=max_length, chat_template_kwargs=switches
        )
        accuracy = _heldout_accuracy(scorer, heldout) if heldout else float("nan")
        ref_prompts, ref_replies = _reference(reference)
        offset = calibrate_offset(scorer, prompts=ref_prompts, replies=ref_replies)
        adapter = run_dir / ADAPTER_DIR
        trainer.save_model(str(adapter))
        meta = {
            "offset": offset,
            "base_model": str(config.base_model),
            # what the RL loop checks before it attaches this RM to a policy's base
            "base_fingerprint": base_fingerprint(config.base_model),
            "chat_template_kwargs": switches,  # the scorer tokenises as the RM was trained
            "heldout_accuracy": accuracy,
            "heldout_pairs": len(heldout),
            "reference_replies": len(ref_replies),
            "train_pairs": len(trainer.train_dataset),
            "dropped_too_long": len(train_rows) - len(trainer.train_dataset),
            "max_length": max_length,
            "dtype": str(dtype).removeprefix("torch."),
            "adapter": ADAPTER_DIR,
        }
        if is_main_process():
            write_json_atomic(run_dir / RM_META_FILE, meta)
        result = run_result(
            method=config.method,
            steps=trainer.state.global_step,
            adapter=str(adapter),
            resumed_from=checkpoint.step if checkpoint else 0,
            metrics={**callback.last, **callback.summary, "heldout_accuracy": accuracy},
            base_model=config.base_model,
            world_size=trainer.args.world_size,
            heldout_accuracy=accuracy,
            offset=offset,
        )
        return writer.finish(result)
