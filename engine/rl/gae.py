"""Generalized Advantage Estimation with one reward per reply, placed on its last token."""

from __future__ import annotations

import torch


def last_token_rewards(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A ``(batch, tokens)`` reward tensor that is 0 everywhere except each reply's last real token.

    REPO scores a whole reply once (docs/method.md: "one reward per generated reply"), so the credit enters
    the return at the final token and GAE carries it back.

    >>> last_token_rewards(torch.tensor([2.0]), torch.tensor([[1.0, 1.0, 0.0]]))
    tensor([[0., 2., 0.]])
    """
    rewards = torch.zeros_like(mask, dtype=scores.dtype)
    last = (mask.sum(dim=1).long() - 1).clamp(min=0)
    rows = torch.arange(mask.shape[0], device=mask.device)
    rewards[rows, last] = scores.to(mask.device) * (mask.sum(dim=1) > 0)
    return rewards


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns by GAE (Schulman et al. 2016, "High-Dimensional Continuous Control
    Using Generalized Advantage Estimation", eq. 16):

        delta_t = r_t + gamma * V_{t+1} - V_t,        A_t = delta_t + gamma * lam * A_{t+1}

    with V and A taken as 0 past the end of each reply (the episode ends with the reply). Returns
    are A + V, the critic's regression target. gamma = 1 and lam = 0.95 are the RLHF defaults.
    Padding positions come back as 0.

    >>> adv, ret = gae_advantages(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]),
    ...                           torch.ones(1, 2), gamma=1.0, lam=1.0)
    >>> adv, ret
    (tensor([[0.5000, 0.5000]]), tensor([[1., 1.]]))
    """
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(values)
    next_value = torch.zeros_like(values[:, 0])
    next_advantage = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_advantage) * mask[:, t]
        # Replies are right-padded, so at a padded position both carries reset to 0: the last real
        # token then bootstraps from V = 0, i.e. the episode ends with the reply.
        next_value = values[:, t] * mask[:, t]
        next_advantage = advantages[:, t]
    returns = (advantages + values) * mask
    return advantages, returns
