"""PPO's clipped surrogate and value losses, token log-probs and entropy from logits."""

from __future__ import annotations

import torch

from engine.rl.stats import masked_mean


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of each chosen token: ``log softmax(logits)[token]``, shape ``tokens.shape``.

    >>> logprobs_from_logits(torch.zeros(1, 1, 4), torch.tensor([[2]]))
    tensor([[-1.3863]])
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    return torch.gather(logp, -1, tokens.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the categorical distribution at each position: logsumexp(z) - sum softmax(z) z.

    >>> entropy_from_logits(torch.zeros(1, 4))
    tensor([1.3863])
    """
    logits = logits.float()
    probs = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-Clip surrogate (Schulman et al. 2017, "Proximal Policy Optimization Algorithms", eq. 7),
    as a loss to minimise, and the fraction of tokens where the clip was active.

        L = -E[min(rho * A, clip(rho, 1 - eps, 1 + eps) * A)],    rho = exp(logp - logp_old)

    >>> loss, frac = clipped_policy_loss(torch.tensor([[0.5]]), torch.tensor([[0.0]]),
    ...                                  torch.tensor([[1.0]]), torch.ones(1, 1))
    >>> round(loss.item(), 4), frac.item()
    (-1.2, 1.0)
    """
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped > unclipped).float(), mask)
    return loss, clip_fraction


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_range: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss from the PPO reference code (``baselines/ppo2/model.py``; Huang et al. 2022,
    implementation detail 9): the critic may not move more than ``clip_range`` from its rollout-time
    estimate in one update. Returns the loss and the fraction of tokens where the clip was active.

        L_V = 0.5 * E[max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)]

    >>> loss, frac = clipped_value_loss(torch.tensor([[1.0]]), torch.tensor([[0.0]]),
    ...                                 torch.tensor([[1.0]]), torch.ones(1, 1))
    >>> round(loss.item(), 4), frac.item()
    (0.32, 1.0)
    """
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_error, clipped_error), mask)
    clip_fraction = masked_mean((clipped_error > unclipped_error).float(), mask)
    return loss, clip_fraction
