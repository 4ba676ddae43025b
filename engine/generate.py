"""``python -m engine generate``: one agent reply per prompt row, for evaluation runs and inspection.

Input rows are the prompt-only export ``{"id", "prompt": [chat messages], "task": {...}}``; output rows
are ``{"id", "reply", "finish_reason", "tokens"}`` in the same order, where ``finish_reason`` is
``"stop"`` (the model ended its turn) or ``"length"`` (cut at ``max_new_tokens``), as in OpenAI's API.

Backends: ``hf`` (transformers ``generate`` on base + optional LoRA adapter, batched, greedy or seeded
sampling) and ``vllm`` (an OpenAI-compatible server already serving the model or adapter).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.config import ConfigError
from engine.jsonl import iter_jsonl
from engine.prompting import chat_text, template_kwargs
from engine.rundir import RowKey, write_rows


def read_prompt_rows(path: Path) -> list[dict]:
    rows = []
    for number, row in iter_jsonl(path):
        if not isinstance(row.get("prompt"), list):
            raise ConfigError(f"{path}:{number}: 'prompt' must be a list of chat messages")
        rows.append({**row, "id": row.get("id", number - 1)})
    return rows


# ---------------------------------------------------------------------------------------------------
# HF backend
# ---------------------------------------------------------------------------------------------------
def load_policy(model: str, adapter: str | None = None):
    """Tokenizer and model (base, with the LoRA adapter merged in memory when given), in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    policy = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    if adapter:
        from peft import PeftModel

        policy = PeftModel.from_pretrained(policy, adapter).merge_and_unload()
    if torch.cuda.is_available():
        policy = policy.to("cuda")
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, policy.eval()


def hf_generate(
    tokenizer,
    policy,
    prompts: list[list[dict]],
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    chat_template_kwargs: dict | str | None = None,
) -> list[dict]:
    """Replies for one batch of chat prompts: ``{"reply", "finish_reason", "tokens"}`` each, the prompts
    rendered with the chat template's switches (``engine.prompting``)."""
    import torch

    texts = [chat_text(tokenizer, p, kwargs=chat_template_kwargs) for p in prompts]
    inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(policy.device)
    sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    torch.manual_seed(seed)
    with torch.no_grad():
        out = policy.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling)
    eos_ids = set(_as_list(policy.generation_config.eos_token_id)) | {tokenizer.eos_token_id}
    replies = []
    for row in out[:, inputs["input_ids"].shape[1] :].tolist():
        end = next((i for i, t in enumerate(row) if t in eos_ids), None)
        tokens = row if end is None else row[:end]
        replies.append(
            {
                RowKey.REPLY: tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                "finish_reason": "length" if end is None else "stop",
                "tokens": len(tokens),
            }
        )
    return replies


def _as_list(value: Any) -> list:
    return [] if value is None else list(value) if isinstance(value, list | tuple) else [value]


# ---------------------------------------------------------------------------------------------------
# vLLM backend
# ---------------------------------------------------------------------------------------------------
async def _vllm_one(client, semaphore, url: str, body: dict) -> dict:
    async with semaphore:
        response = await client.post(url, json=body)
    response.raise_for_status()
    data = response.json()
    choice = data["choices"][0]
    return {
        RowKey.REPLY: (choice["message"].get("content") or "").strip(),
        "finish_reason": choice.get("finish_reason"),
        "tokens": data.get("usage", {}).get("completion_tokens"),
    }


async def _vllm_all(
    base_url: str, model: str, prompts, *, max_new_tokens, temperature, seed, concurrency, chat_template_kwargs=None
):
    import httpx

    semaphore = asyncio.Semaphore(concurrency)
    url = base_url.rstrip("/") + "/chat/completions"
    async with httpx.AsyncClient(timeout=300) as client:
        bodies = [
            {
                "model": model,
                "messages": prompt,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "seed": seed + i,
                "chat_template_kwargs": template_kwargs(chat_template_kwargs),  # as in training
            }
            for i, prompt in enumerate(prompts)
        ]
        return await asyncio.gather(*(_vllm_one(client, semaphore, url, body) for body in bodies))


# ---------------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------------
def generate_file(
    *,
    model: str,
    prompts: Path,
    out: Path,
    adapter: str | None = None,
    max_new_tokens: int = 512,
    temperature: float = 0.0,
    seed: int = 0,
    batch_size: int = 8,
    backend: str = "hf",
    base_url: str | None = None,
    served_model: str | None = None,
    chat_template_kwargs: dict | str | None = None,
) -> int:
    """Generate a reply for every row of ``prompts`` into ``out``; returns the number of rows."""
    rows = read_prompt_rows(prompts)
    chats = [row["prompt"] for row in rows]
    if backend == "vllm":
        if not base_url:
            raise ConfigError("--backend vllm needs --base-url")
        name = served_model or (Path(adapter).name if adapter else model)
        replies = asyncio.run(
            _vllm_all(
                base_url,
                name,
                chats,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                seed=seed,
                concurrency=8,
                chat_template_kwargs=chat_template_kwargs,
            )  # fmt: skip
        )
    else:
        tokenizer, policy = load_policy(model, adapter)
        replies = []
        for start in range(0, len(chats), batch_size):
            batch = chats[start : start + batch_size]
            replies += hf_generate(
                tokenizer, policy, batch, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed + start,
                chat_template_kwargs=chat_template_kwargs,
            )  # fmt: skip
    write_rows(out, [{RowKey.ID: row[RowKey.ID], **reply} for row, reply in zip(rows, replies, strict=True)])
    return len(rows)
