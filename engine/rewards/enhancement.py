"""The REPO reward enhancement: the judge's and the rules' points scale the reward model's score.

Zhuang, Chen, Zeng et al., "Teaching LLM to be Persuasive: Reward-Enhanced Policy Optimization for
Alignment from Heterogeneous Rewards", arXiv 2510.04214 (docs/method.md)::

    E_enh   = clip(E_judge + E_func, -n, n)
    R_total = R_model * (1 + E_enh / n)   if R_model > 0
    R_total = R_model * (1 - E_enh / n)   if R_model < 0

which is ``R_model + |R_model| * E_enh / n``. Multiplicative on purpose: an additive bonus would let
one rule's scale swamp the RM and invite reward hacking, and R_model = 0 leaves nothing to scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the batch version only: the web app uses the scalar one
    import torch

DEFAULT_N = 100.0


def enhanced_reward(r_model: float, e_judge: float, e_func: float, n: float = DEFAULT_N) -> float:
    """R_total for one reply (REPO, arXiv 2510.04214, the enhancement).

    >>> enhanced_reward(2.0, -30.0, -20.0)
    1.0
    >>> enhanced_reward(-2.0, -30.0, -20.0)
    -3.0
    >>> enhanced_reward(0.0, 50.0, 50.0)
    0.0
    >>> enhanced_reward(1.0, 500.0, 0.0)  # E_enh clips at +n: the multiplier tops out at 2
    2.0
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    ratio = min(max(e_judge + e_func, -n), n) / n
    # The paper's two branches as one multiplier in [0, 2]: computed this way (not r + |r| * E/n),
    # rounding can never push the multiplier below 0 and flip the sign of R_model.
    return r_model * (1.0 + ratio if r_model > 0 else 1.0 - ratio)


def enhanced_reward_batch(
    r_model: torch.Tensor, e_judge: torch.Tensor, e_func: torch.Tensor, n: float = DEFAULT_N
) -> torch.Tensor:
    """The enhancement applied element-wise to a batch (same formula as :func:`enhanced_reward`).

    >>> import torch
    >>> enhanced_reward_batch(torch.tensor([2.0, -2.0, 0.0]), torch.tensor([-30.0, -30.0, 9.0]),
    ...                       torch.tensor([-20.0, -20.0, 9.0])).tolist()
    [1.0, -3.0, 0.0]
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    import torch

    ratio = torch.clamp(e_judge + e_func, min=-n, max=n) / n
    return r_model * (1.0 + torch.sign(r_model) * ratio)
