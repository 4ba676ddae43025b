"""Rollouts with transformers' ``generate`` on the trainer's own (peft) model: the CPU backend.

The policy adapter must be the active one; sampling draws from torch's global RNG (the CUDA one on a
GPU), which the checkpoints save, so a resumed run samples exactly what the uninterrupted one would
have. The prompts go to the model's device and the batch comes back on it.
"""

from __future__ import annotations

import torch
from transformers import GenerationConfig

from engine.rollout import RolloutBatch, cut_replies, left_pad


def sampling_config(
    *, greedy: bool, temperature: float, top_p: float, max_new_tokens: int, pad_id: int, eos_id: int
) -> GenerationConfig:
    """Every field that shapes the sampled distribution, explicit: plain sampling at ``temperature``
    (and ``top_p``) from the whole vocabulary (``top_k`` 0), no repetition penalty, no n-gram ban, no
    minimum length, one beam, so that the loss's log-probs are the sampler's."""
    fields = {
        "max_new_tokens": max_new_tokens, "min_new_tokens": 0, "num_beams": 1,
        "num_return_sequences": 1, "pad_token_id": pad_id, "eos_token_id": eos_id,
        "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "no_repeat_ngram_size": 0,
        "length_penalty": 1.0, "renormalize_logits": False, "remove_invalid_values": False, "use_cache": True,
    }  # fmt: skip
    if greedy:
        return GenerationConfig(do_sample=False, **fields)
    return GenerationConfig(
        do_sample=True, temperature=temperature, top_p=top_p, top_k=0, typical_p=1.0, epsilon_cutoff=0.0,
        eta_cutoff=0.0, **fields,
    )  # fmt: skip


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
    sampler_logprobs: bool = False,
    synced: bool = False,
) -> RolloutBatch:
    """Sample one reply per prompt (token-id lists) and return it as a :class:`RolloutBatch` on the
    model's device.

    ``sampler_logprobs``: also return the log-probs of the sampled tokens under the distribution
    ``generate`` actually drew them from (its scores after every logits processor and warper:
    temperature, top-p, and whatever else a generation config adds), for the loop's sampled drift
    check. They cost one ``(batch, vocabulary)`` score tensor per generated token while generating.
    ``synced``: the model is sharded over ranks (FSDP), so each rank keeps running forward passes
    until every rank is done (transformers' ``synced_gpus``)."""
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    device = next(model.parameters()).device
    query_ids, query_mask = left_pad(prompts, pad_id=pad_id)
    query_ids, query_mask = query_ids.to(device), query_mask.to(device)
    was_training = model.training
    model.eval()
    config = sampling_config(
        greedy=greedy, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, pad_id=pad_id, eos_id=eos_id
    )
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = inner.generation_config
    # transformers fills every field our config leaves unset from the model's own generation config
    # (a checkpoint's generation_config.json: top_k 20, repetition_penalty 1.05, ...); with a blank one
    # in its place for the call, only what sampling_config says shapes the distribution.
    inner.generation_config = GenerationConfig()
    try:
        output = model.generate(
            input_ids=query_ids,
            attention_mask=query_mask,
            generation_config=config,
            return_dict_in_generate=True,
            output_scores=sampler_logprobs,
            synced_gpus=synced,
        )
    finally:
        inner.generation_config = saved
    model.train(was_training)
    replies = output.sequences[:, query_ids.shape[1] :].tolist()
    response_ids, response_mask, ended = cut_replies(replies, eos_id=eos_id, pad_id=pad_id, max_tokens=max_new_tokens)
    texts = tokenizer.batch_decode(
        [ids[: int(n)] for ids, n in zip(response_ids, response_mask.sum(1), strict=True)],
        skip_special_tokens=True,
    )
    sampled = _sampled_logprobs(output.scores, response_ids, response_mask) if sampler_logprobs else None
    return RolloutBatch(query_ids, query_mask, response_ids, response_mask, texts, ended, sampled).to(device)


def _sampled_logprobs(scores, response_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` log-probs of the reply tokens under the processed scores of each step (0 past a
    reply's end, where the scores may rule the padding out with -inf)."""
    out = torch.zeros_like(response_mask)
    for t in range(min(len(scores), response_ids.shape[1])):
        step = torch.log_softmax(scores[t].float(), dim=-1).cpu()
        out[:, t] = step.gather(1, response_ids[:, t : t + 1]).squeeze(1)
    return torch.where(response_mask.bool(), out, torch.zeros_like(out))
