"""From the reward sources to one scalar per reply: R_total (REPO) or R_model (the PPO baseline),
scaled, with the optional penalty for replies cut at the length limit.

Without a reward model (``rewards.rm_path`` unset: a rules- or judge-only run, the CPU tests) the
reward source reports R_model = 0, and the multiplicative enhancement then makes R_total = 0 for
every reply: nothing to learn from. ``r_model_without_rm = c`` instead enhances a constant, neutral
R_model = c, i.e. R_total = c * (1 + E_enh / n), so the judge's and the rules' points still rank the
replies, through the same formula and with the same logged fields.
"""

from __future__ import annotations

import dataclasses

import torch

from engine.rewards.enhancement import training_reward


class ConstantRModel:
    """A reward source whose R_model is the constant ``r_model`` (R_total recomputed from it)."""

    def __init__(self, source, *, r_model: float, n: float):
        self.source, self.r_model, self.n = source, r_model, n

    def score(self, **batch):
        return self.start(**batch).result()

    def start(self, **batch):
        from engine.rewards.reward import PendingRewards

        pending = self.source.start(**batch)
        return PendingRewards(lambda: self._constant(pending.result()))

    def _constant(self, scored):
        r_model = [self.r_model] * len(scored.r_total)
        r_total = [
            training_reward(r_model=None, e_judge=j, e_func=f, n=self.n, r_model_without_rm=self.r_model)
            for j, f in zip(scored.e_judge, scored.e_func, strict=True)
        ]
        return dataclasses.replace(scored, r_model=r_model, r_total=r_total)


def build_reward_source(config, *, ac=None):
    """The ``RepoReward`` of ``config.rewards`` (RM, judge, rules and the enhancement's n).

    With ``ac`` and ``rm_on_shared_base``, the RM runs as the ``reward`` adapter of the policy's own
    base instead of a second model (docs/engine.md, "PPO and REPO: our own loop"); with ``ac`` and a
    separate RM, that RM is moved to ``ac``'s device.
    """
    from engine.rewards import RepoReward

    shared = ac is not None and config.rm_on_shared_base and bool(config.rewards.rm_path)
    rewards = dataclasses.replace(config.rewards, rm_path=None) if shared else config.rewards
    # A separate RM goes where the policy is (the CPU without ``ac``).
    source = RepoReward.from_config(rewards, device=ac.device if ac is not None else None)
    if shared:
        from engine.train.ppo_reward_model import attach_reward_model

        init_critic = getattr(config, "critic_init", "fresh") == "rm"
        source.rm = attach_reward_model(ac, config.rewards.rm_path, init_critic=init_critic)
    if not config.rewards.rm_path and config.r_model_without_rm is not None:
        return ConstantRModel(source, r_model=config.r_model_without_rm, n=config.rewards.n)
    return source


def reply_scores(scored, ended: torch.Tensor, *, config) -> torch.Tensor:
    """One reward per reply, decided by ``engine.rewards.enhancement.training_reward`` (R_total with the
    enhancement, else R_model alone; without an RM the enhanced constant); times
    ``reward_scale``; minus ``missing_eos_penalty`` where the reply hit the length limit (a reply
    cut mid-sentence must not look as good as a finished one). On the device of ``ended`` (the
    rollout's)."""
    has_rm = bool(config.rewards.rm_path)
    raw = [
        training_reward(
            r_model=r if has_rm else None, e_judge=j, e_func=f, n=config.rewards.n,
            use_enhanced=config.use_enhanced_reward, r_model_without_rm=config.r_model_without_rm,
        )
        for r, j, f in zip(scored.r_model, scored.e_judge, scored.e_func, strict=True)
    ]  # fmt: skip
    scores = torch.tensor(raw, dtype=torch.float32, device=ended.device) * config.reward_scale
    if config.missing_eos_penalty is not None:
        scores = scores - config.missing_eos_penalty * (~ended).float()
    return scores
