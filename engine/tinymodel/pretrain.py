"""A small Qwen3-architecture causal LM and its brief CPU pre-training on chat-formatted dialogues."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from engine.tinymodel.tokenizer import IM_END, PAD

# head_dim 64 is the smallest vLLM's CPU attention accepts; 4 layers of width 256 (~4M parameters)
# learn the templated demo dialogues in a few hundred steps on one or two cores.
ARCH = {
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "max_position_embeddings": 1024,
    "tie_word_embeddings": True,
    "rms_norm_eps": 1e-6,
}
BLOCK = 256  # tokens per training sequence
BATCH = 8
STEPS = 150
PEAK_LR = 3e-3
WARMUP = 20


def build_model(tok: PreTrainedTokenizerFast, *, seed: int) -> Qwen3ForCausalLM:
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tok),
        eos_token_id=tok.convert_tokens_to_ids(IM_END),
        pad_token_id=tok.convert_tokens_to_ids(PAD),
        bos_token_id=None,
        dtype="float32",
        **ARCH,
    )
    return Qwen3ForCausalLM(config)


def chat_stream(tok: PreTrainedTokenizerFast, chats: list[list[dict]]) -> torch.Tensor:
    """All chats rendered with the chat template and concatenated into one token stream."""
    ids: list[int] = []
    for chat in chats:
        ids += tok.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
    return torch.tensor(ids, dtype=torch.long)


def lr_at(step: int, *, steps: int, peak: float = PEAK_LR, warmup: int = WARMUP) -> float:
    """Linear warm-up then cosine decay to a tenth of the peak.

    >>> lr_at(0, steps=100, peak=1.0, warmup=10), round(lr_at(100, steps=100, peak=1.0, warmup=10), 2)
    (0.1, 0.1)
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min((step - warmup) / max(steps - warmup, 1), 1.0)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def pretrain(
    model: Qwen3ForCausalLM,
    tok: PreTrainedTokenizerFast,
    chats: list[list[dict]],
    *,
    seed: int,
    steps: int | None = None,
) -> dict:
    """Next-token training on random windows of the chat stream; returns loss figures for the record."""
    steps = STEPS if steps is None else steps
    stream = chat_stream(tok, chats)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.01)
    model.train()
    started, first, last = time.monotonic(), None, None
    for step in range(steps):
        starts = [rng.randrange(0, len(stream) - BLOCK - 1) for _ in range(BATCH)]
        batch = torch.stack([stream[s : s + BLOCK] for s in starts])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps=steps)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        first = loss.item() if first is None else first
        last = loss.item()
    model.eval()
    return {
        "pretrain_steps": steps,
        "stream_tokens": len(stream),
        "first_loss": round(first or 0.0, 4),
        "final_loss": round(last or 0.0, 4),
        "pretrain_s": round(time.monotonic() - started, 1),
    }


def save(model: Qwen3ForCausalLM, tok: PreTrainedTokenizerFast, out: Path) -> None:
    eos = tok.convert_tokens_to_ids(IM_END)
    pad = tok.convert_tokens_to_ids(PAD)
    model.generation_config = GenerationConfig(eos_token_id=[eos, pad], pad_token_id=pad)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
