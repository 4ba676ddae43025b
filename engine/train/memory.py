"""Memory savers of the PPO / REPO loop: chunked log-probs, entropy without a graph unless it is
trained, and a training-mode forward with dropout 0 and non-reentrant gradient checkpointing.

Why (docs/engine.md, "Memory model"): at micro-batch 8 x 512 reply tokens and a 152k vocabulary, one
float32 ``(B, T, V)`` tensor is 2.5 GB. The straightforward update keeps the logits, their
log-softmax and the entropy's softmax in the autograd graph at once. :func:`chunked_logprobs` runs the
LM head over ``chunk_size`` reply positions at a time inside a non-reentrant checkpoint, so the graph
keeps only the hidden states of each chunk (``(B, T, H)``) and one chunk's logits exist at a time,
in the forward and again when the backward pass recomputes them.

HF decoder layers checkpoint only in training mode; the loop keeps the model in ``eval()`` for
rollouts and the experience, and :func:`update_mode` switches it to ``train()`` for the updates with
every dropout set to 0 first, so the forward is the same deterministic function in both modes (the
PPO ratio compares the rollout-time log-probs with the update's).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from engine.rl import entropy_from_logits, logprobs_from_logits
from engine.train.ppo_model import POLICY, ActorCritic, response_hidden
from engine.train.vocab_parallel import VocabParallelHead


def _chunk_stats(
    hidden: torch.Tensor,
    tokens: torch.Tensor,
    lm_head: nn.Module,
    temperature: float,
    entropy: bool,
    entropy_grad: bool,
) -> tuple[torch.Tensor, ...]:
    """Log-prob of each token of one chunk (and its entropy): ``z[token] - logsumexp(z)``, never the
    full log-softmax.

    With a vocabulary-parallel head (``parallel: fsdp``, engine/train/vocab_parallel.py) the same
    formulas run over this rank's slice of the vocabulary for every rank's rows, and the slices are
    combined: the log-sum-exp of the slices' log-sum-exps, the token's logit from the rank that holds
    it, the entropy's ``sum p z`` as the slices' own weighted by ``exp(lse_slice - lse)``."""
    shard = lm_head if isinstance(lm_head, VocabParallelHead) else None
    if shard is not None:
        hidden, tokens, rows = shard.gather_rows(hidden, tokens)
        logits = shard.local_logits(hidden).float()
    else:
        logits = lm_head(hidden).float()
    if temperature != 1.0:  # no second (B, chunk, V) tensor for the common case
        logits = logits / temperature
    lse = torch.logsumexp(logits, dim=-1)
    if shard is None:
        logprobs = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - lse
    else:
        slice_lse, lse = lse, shard.logsumexp(lse)
        logprobs = shard.pick(logits, tokens) - lse
    if not entropy:
        return (logprobs,) if shard is None else (rows.own(logprobs),)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        mean = (torch.softmax(logits, dim=-1) * logits).sum(dim=-1)
        if shard is not None:
            mean = shard.sum(torch.exp(slice_lse - lse) * mean)
        ent = lse - mean
    return (logprobs, ent) if shard is None else (rows.own(logprobs), rows.own(ent))


def chunked_logprobs(
    hidden: torch.Tensor,
    lm_head: nn.Module,
    tokens: torch.Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int = 64,
    entropy: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs ``(B, T)`` of ``tokens`` under ``lm_head(hidden) / temperature``, computed
    ``chunk_size`` positions at a time, and the entropy per token when ``entropy`` (with a graph only
    when ``entropy_grad``; otherwise it is a detached figure for the logs).

    With gradients enabled each chunk runs in a non-reentrant checkpoint: its logits are dropped after
    the forward and recomputed in the backward pass, one chunk at a time.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    length = hidden.shape[1]
    if isinstance(lm_head, VocabParallelHead):
        # Every rank runs each chunk's collectives: the same number of chunks on every rank, over the
        # longest reply of any rank (the padding's results are cut off below)
        longest = lm_head.max_over_ranks(length, hidden.device)
        hidden = torch.nn.functional.pad(hidden, (0, 0, 0, longest - length))
        tokens = torch.nn.functional.pad(tokens, (0, longest - length))
    logprobs, entropies = [], []
    track = torch.is_grad_enabled() and hidden.requires_grad
    for begin in range(0, hidden.shape[1], chunk_size):
        h, tok = hidden[:, begin : begin + chunk_size], tokens[:, begin : begin + chunk_size]
        args = (h, tok, lm_head, temperature, entropy, entropy_grad)
        out = checkpoint(_chunk_stats, *args, use_reentrant=False) if track else _chunk_stats(*args)
        logprobs.append(out[0])
        if entropy:
            entropies.append(out[1] if entropy_grad else out[1].detach())
    return torch.cat(logprobs, dim=1)[:, :length], torch.cat(entropies, dim=1)[:, :length] if entropy else None


def plain_logprobs(
    hidden: torch.Tensor,
    lm_head: nn.Module,
    tokens: torch.Tensor,
    *,
    temperature: float = 1.0,
    entropy: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The straightforward computation (the whole ``(B, T, V)`` logits and log-softmax at once), the
    reference :func:`chunked_logprobs` is tested against and the loop's path with chunking off."""
    logits = lm_head(hidden).float() / temperature
    logprobs = logprobs_from_logits(logits, tokens)
    if not entropy:
        return logprobs, None
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        ent = entropy_from_logits(logits)
    return logprobs, ent


def reply_logprobs(
    ac: ActorCritic,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tokens: torch.Tensor,
    *,
    start: int,
    temperature: float = 1.0,
    adapter: str | None = POLICY,
    chunk_size: int = 0,
    entropy: bool = False,
    entropy_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs of the reply ``tokens`` (and their entropy) under one adapter, the logits chunked
    when ``chunk_size > 0``; the same values as ``logprobs_from_logits(policy_logits(...))``. A
    vocabulary-parallel head always takes the chunked function (``chunk_size`` 0: one chunk)."""
    hidden = response_hidden(ac, input_ids, attention_mask, start=start, adapter=adapter)
    kwargs = {"temperature": temperature, "entropy": entropy, "entropy_grad": entropy_grad}
    if isinstance(ac.lm_head, VocabParallelHead):  # sys.maxsize: one chunk, the longest reply of any rank
        return chunked_logprobs(hidden, ac.lm_head, tokens, chunk_size=chunk_size or sys.maxsize, **kwargs)
    if chunk_size > 0:
        return chunked_logprobs(hidden, ac.lm_head, tokens, chunk_size=chunk_size, **kwargs)
    return plain_logprobs(hidden, ac.lm_head, tokens, **kwargs)


def disable_dropout(model: nn.Module) -> None:
    """Every dropout of ``model`` to p = 0 (the LoRA layers' included), and the attention dropout of
    its configs, so that ``train()`` computes what ``eval()`` does."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        config = getattr(module, "config", None)
        if config is not None and getattr(config, "attention_dropout", 0.0):
            config.attention_dropout = 0.0


@contextmanager
def update_mode(ac: ActorCritic, *, gradient_checkpointing: bool) -> Iterator[None]:
    """The updates' forward: training mode with dropout 0, the decoder layers checkpointed
    (non-reentrant: the frozen embeddings need no ``requires_grad`` trick, and peft's adapter switch
    between the policy's and the critic's backward passes is safe because each backward runs before
    the next switch); back to ``eval()`` after."""
    base = ac.model.get_base_model()
    disable_dropout(ac.model)
    if gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    elif base.is_gradient_checkpointing:
        base.gradient_checkpointing_disable()
    ac.model.train()
    try:
        yield
    finally:
        ac.model.eval()
