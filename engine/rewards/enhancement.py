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


# Without a reward model, R_model is this constant and is enhanced like a real score, so that the
# judge's and the rules' points still rank replies: R = c (1 + E_enh / n). One policy for every trainer.
NO_RM_R_MODEL = 1.0


def training_reward(
    *,
    r_model: float | None,
    e_judge: float,
    e_func: float,
    n: float = DEFAULT_N,
    use_enhanced: bool = True,
    r_model_without_rm: float | None = NO_RM_R_MODEL,
) -> float:
    """The one number a trainer is rewarded with for one reply: PPO/REPO, GRPO and the reward playground
    all call this, so the playground shows exactly what training uses.

    - with an RM (``r_model`` given): R_total = ``enhanced_reward(r_model, e_judge, e_func, n)`` when
      ``use_enhanced`` (REPO), else R_model alone (the paper's PPO and GRPO baselines);
    - without an RM (``r_model`` None): R_model is the constant ``r_model_without_rm`` (default 1),
      always enhanced (R_model alone would be that constant: nothing to learn), i.e. the judge's and
      the rules' points decide; ``r_model_without_rm = None`` gives 0 (the multiplicative formula with
      R_model = 0: nothing to learn either).

    >>> training_reward(r_model=2.0, e_judge=-10.0, e_func=-40.0, n=100.0)
    1.0
    >>> training_reward(r_model=2.0, e_judge=-10.0, e_func=-40.0, n=100.0, use_enhanced=False)
    2.0
    >>> training_reward(r_model=None, e_judge=0.0, e_func=-15.0, n=100.0)
    0.85
    >>> training_reward(r_model=None, e_judge=0.0, e_func=-15.0, n=100.0, use_enhanced=False)
    0.85
    >>> training_reward(r_model=None, e_judge=0.0, e_func=-15.0, n=100.0, r_model_without_rm=None)
    0.0
    """
    if r_model is None:
        if r_model_without_rm is None:
            return 0.0
        return enhanced_reward(r_model_without_rm, e_judge, e_func, n)
    return enhanced_reward(r_model, e_judge, e_func, n) if use_enhanced else float(r_model)
