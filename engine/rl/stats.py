"""Masked statistics over response tokens: mean, variance, whitening, explained variance, KL estimate."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (padding ignored).

    >>> masked_mean(torch.tensor([1.0, 2.0, 9.0]), torch.tensor([1.0, 1.0, 0.0]))
    tensor(1.5000)
    """
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(values: torch.Tensor, mask: torch.Tensor, *, unbiased: bool = True) -> torch.Tensor:
    """Variance of the masked entries; Bessel-corrected by default, as in the PPO reference code.

    >>> masked_var(torch.tensor([1.0, 3.0, 100.0]), torch.tensor([1.0, 1.0, 0.0]))
    tensor(2.)
    """
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        count = mask.sum()
        if count > 1:
            var = var * count / (count - 1)
    return var


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, *, shift_mean: bool = True) -> torch.Tensor:
    """Normalise to zero mean and unit variance over the masked entries (advantage whitening).

    Whitening advantages per batch is one of the "implementation details" that make PPO stable
    (Huang et al., "The 37 Implementation Details of PPO", ICLR blog track 2022, item 7).
    Padding positions come back as 0 so that they can never leak into a loss.

    >>> masked_whiten(torch.tensor([1.0, 3.0, 50.0]), torch.tensor([1.0, 1.0, 0.0]))
    tensor([-0.7071,  0.7071,  0.0000])
    """
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


def explained_variance(predicted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var[target - predicted] / Var[target]: 1 is a perfect critic, 0 no better than a constant.

    The critic's health metric from OpenAI baselines (``baselines/common/math_util.py``).

    >>> explained_variance(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]), torch.ones(3))
    1.0
    """
    target_var = masked_var(target, mask)
    if target_var <= 0:
        return float("nan")
    return float(1.0 - masked_var(target - predicted, mask) / target_var)


def kl_estimate(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, *, kind: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from log-probs of tokens sampled from the policy.

    ``k1`` = log p - log q (unbiased, high variance, can be negative); ``k3`` = (r - 1) - log r with
    r = q / p (unbiased and always >= 0). J. Schulman, "Approximating KL Divergence" (2020).

    >>> kl_estimate(torch.tensor([-1.0]), torch.tensor([-1.0]))
    tensor([0.])
    """
    log_ratio = ref_logprobs - logprobs
    if kind == "k1":
        return -log_ratio
    if kind == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {kind!r}: use 'k1' or 'k3'")
