"""Rollout backends: turn a batch of prompts into sampled replies for the PPO / REPO loop.

``hf.generate_hf`` samples with transformers' ``generate`` on the trainer's own model (CPU, tests);
``vllm.VLLMRollout`` samples on an OpenAI-compatible vLLM server that serves the policy adapter, and
after every update pushes the new adapter there and checks that the server's log-probs match.
Both return a :class:`RolloutBatch` with the same layout: prompts left-padded, replies right-padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RolloutBatch:
    """Prompts and sampled replies as token tensors, plus the decoded reply texts."""

    query_ids: torch.Tensor  # (B, P) left-padded prompt tokens
    query_mask: torch.Tensor  # (B, P) 1 on real prompt tokens
    response_ids: torch.Tensor  # (B, T) right-padded reply tokens, EOS included when generated
    response_mask: torch.Tensor  # (B, T) float, 1 on real reply tokens
    texts: list[str]  # decoded replies without special tokens
    ended: torch.Tensor  # (B,) bool: the reply ended with EOS rather than hitting the length limit
    # (B, T) the sampler's own log-probs of the sampled tokens, under the distribution it drew them
    # from (vLLM's processed log-probs; HF generate's processed scores when asked), if any
    sampler_logprobs: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> RolloutBatch:
        """The same batch with every tensor on ``device`` (the texts stay as they are)."""
        sampler = None if self.sampler_logprobs is None else self.sampler_logprobs.to(device)
        return RolloutBatch(
            self.query_ids.to(device),
            self.query_mask.to(device),
            self.response_ids.to(device),
            self.response_mask.to(device),
            self.texts,
            self.ended.to(device),
            sampler,
        )

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.query_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.query_mask, self.response_mask.long()], dim=1)

    @property
    def lengths(self) -> torch.Tensor:
        return self.response_mask.sum(dim=1)


class SamplingDriftError(RuntimeError):
    """The rollouts were not drawn from the distribution the loss assumes (the sampled drift check)."""


def sampled_drift(sampler: torch.Tensor, trainer: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """The sampler's log-probs of the tokens it drew against the trainer's recomputed ones at the
    training temperature, over the real reply tokens of a batch: ``kl``, the mean of
    ``log p_sampler - log p_trainer``, an unbiased estimate of KL(sampler || trainer) since the tokens
    were drawn from the sampler; ``mean`` and ``max`` of the absolute differences. A repetition penalty,
    a top-k or a stale adapter on the sampler's side raises ``kl`` (a greedy check cannot see the first
    two); rounding noise (bfloat16) moves ``mean`` but leaves ``kl`` near 0, its signs cancelling.

    >>> d = sampled_drift(torch.tensor([[-1.0, -2.0, 0.0]]), torch.tensor([[-1.1, -1.9, -9.0]]),
    ...                   torch.tensor([[1.0, 1.0, 0.0]]))
    >>> round(d["kl"], 6), round(d["mean"], 6), round(d["max"], 6)
    (0.0, 0.1, 0.1)
    """
    keep = mask.bool()
    gap = (sampler.to(trainer.device).float() - trainer.float())[keep]
    if gap.numel() == 0:
        return {"kl": 0.0, "mean": 0.0, "max": 0.0}
    return {"kl": float(gap.mean()), "mean": float(gap.abs().mean()), "max": float(gap.abs().max())}


def left_pad(sequences: list[list[int]], *, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists into ``(ids, mask)`` so every prompt ends at the same column."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, seq in enumerate(sequences):
        if seq:
            ids[i, width - len(seq) :] = torch.tensor(seq)
            mask[i, width - len(seq) :] = 1
    return ids, mask


def cut_replies(
    replies: list[list[int]], *, eos_id: int, pad_id: int, max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad replies, each cut just after its first EOS: ``(ids, mask, ended)``.

    >>> ids, mask, ended = cut_replies([[5, 2, 7], [5, 6]], eos_id=2, pad_id=0, max_tokens=3)
    >>> ids.tolist(), mask.tolist(), ended.tolist()
    ([[5, 2], [5, 6]], [[1.0, 1.0], [1.0, 1.0]], [True, False])
    """
    cut, ended = [], []
    for reply in replies:
        reply = list(reply[:max_tokens])
        stop = reply.index(eos_id) + 1 if eos_id in reply else None
        cut.append(reply[:stop] if stop else reply)
        ended.append(stop is not None)
    width = max(1, max(len(r) for r in cut))
    ids = torch.full((len(cut), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(cut), width))
    for i, reply in enumerate(cut):
        if reply:
            ids[i, : len(reply)] = torch.tensor(reply)
            mask[i, : len(reply)] = 1.0
    return ids, mask, torch.tensor(ended)


def concat_rollouts(parts: list[RolloutBatch], *, pad_id: int) -> RolloutBatch:
    """Join chunk-wise rollouts into one batch: prompts re-padded on the left, replies on the right."""
    width_q = max(p.query_ids.shape[1] for p in parts)
    width_r = max(p.response_ids.shape[1] for p in parts)

    def pad(t: torch.Tensor, width: int, value, *, left: bool) -> torch.Tensor:
        extra = width - t.shape[1]
        filler = torch.full((t.shape[0], extra), value, dtype=t.dtype, device=t.device)
        return torch.cat([filler, t] if left else [t, filler], dim=1)

    sampler = None
    if all(p.sampler_logprobs is not None for p in parts):
        sampler = torch.cat([pad(p.sampler_logprobs, width_r, 0.0, left=False) for p in parts])
    return RolloutBatch(
        query_ids=torch.cat([pad(p.query_ids, width_q, pad_id, left=True) for p in parts]),
        query_mask=torch.cat([pad(p.query_mask, width_q, 0, left=True) for p in parts]),
        response_ids=torch.cat([pad(p.response_ids, width_r, pad_id, left=False) for p in parts]),
        response_mask=torch.cat([pad(p.response_mask, width_r, 0.0, left=False) for p in parts]),
        texts=[t for p in parts for t in p.texts],
        ended=torch.cat([p.ended for p in parts]),
        sampler_logprobs=sampler,
    )
