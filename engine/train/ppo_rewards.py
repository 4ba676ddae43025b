"""From the reward sources to one scalar per reply: R_total (REPO) or R_model (the PPO baseline),
scaled, with the optional penalty for replies cut at the length limit."""

from __future__ import annotations

import torch


def build_reward_source(config):
    """The ``RepoReward`` of ``config.rewards`` (RM, judge, rules and the enhancement's n)."""
    from engine.rewards import RepoReward

    return RepoReward.from_config(config.rewards)


def reply_scores(scored, ended: torch.Tensor, *, config) -> torch.Tensor:
    """One reward per reply: R_total with the enhancement, else R_model alone; times
    ``reward_scale``; minus ``missing_eos_penalty`` where the reply hit the length limit (a reply
    cut mid-sentence must not look as good as a finished one)."""
    raw = scored.r_total if config.use_enhanced_reward else scored.r_model
    scores = torch.tensor(raw, dtype=torch.float32) * config.reward_scale
    if config.missing_eos_penalty is not None:
        scores = scores - config.missing_eos_penalty * (~ended).float()
    return scores
