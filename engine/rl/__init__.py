"""The small, pure maths of PPO and REPO: GAE, whitening, clipped losses, entropy, KL, explained variance.

Every function takes and returns tensors and has no side effects, so the loop in
``engine.train.ppo`` reads as a sequence of named formulas. Shapes: ``(batch, tokens)`` over the
generated response, with a 0/1 ``mask`` that is 1 on real response tokens.
"""

from engine.rl.gae import gae_advantages, last_token_rewards
from engine.rl.losses import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_from_logits,
    logprobs_from_logits,
)
from engine.rl.stats import explained_variance, kl_estimate, masked_mean, masked_var, masked_whiten

__all__ = [
    "clipped_policy_loss",
    "clipped_value_loss",
    "entropy_from_logits",
    "explained_variance",
    "gae_advantages",
    "kl_estimate",
    "last_token_rewards",
    "logprobs_from_logits",
    "masked_mean",
    "masked_var",
    "masked_whiten",
]
