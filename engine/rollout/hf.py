"""Rollouts with transformers' ``generate`` on the trainer's own (peft) model: the CPU backend.

The policy adapter must be the active one; sampling draws from torch's global RNG (the CUDA one on a
GPU), which the checkpoints save, so a resumed run samples exactly what the uninterrupted one would
have. The prompts go to the model's device and the batch comes back on it.
"""

from __future__ import annotations

import torch

from engine.rollout import RolloutBatch, cut_replies, left_pad


@torch.no_grad()
def generate_hf(
    model,
    tokenizer,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    greedy: bool = False,
) -> RolloutBatch:
    """Sample one reply per prompt (token-id lists) and return it as a :class:`RolloutBatch` on the
    model's device."""
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    device = next(model.parameters()).device
    query_ids, query_mask = left_pad(prompts, pad_id=pad_id)
    query_ids, query_mask = query_ids.to(device), query_mask.to(device)
    was_training = model.training
    model.eval()
    # top_k=0: sample from the whole distribution, so that the loss's log-probs are the sampler's.
    sampling = (
        {"do_sample": False} if greedy else {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    )
    output = model.generate(
        input_ids=query_ids,
        attention_mask=query_mask,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        **sampling,
    )
    model.train(was_training)
    replies = output[:, query_ids.shape[1] :].tolist()
    response_ids, response_mask, ended = cut_replies(replies, eos_id=eos_id, pad_id=pad_id, max_tokens=max_new_tokens)
    texts = tokenizer.batch_decode(
        [ids[: int(n)] for ids, n in zip(response_ids, response_mask.sum(1), strict=True)],
        skip_special_tokens=True,
    )
    return RolloutBatch(query_ids, query_mask, response_ids, response_mask, texts, ended).to(device)
