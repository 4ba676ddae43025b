"""The two halves of one PPO / REPO step after the rollout: build the experience (log-probs,
values, reference, rewards per token, GAE) and run the clipped updates on it.

Each half is a function of tensors and the model; the loop in ``engine.train.ppo`` calls them in order.
The experience itself comes in two parts, so that the forward passes (which need no reward) run while
the judge's calls are in flight: :func:`experience_forward`, then :func:`experience_from` the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.rl import (
    clipped_policy_loss,
    clipped_value_loss,
    explained_variance,
    gae_advantages,
    kl_estimate,
    last_token_rewards,
    masked_mean,
    masked_whiten,
)
from engine.rollout import RolloutBatch
from engine.train import sharding
from engine.train.memory import reply_logprobs, update_mode
from engine.train.ppo_dist import Distributed, all_reduce_gradients, mean_over_ranks
from engine.train.ppo_model import POLICY, VALUE, ActorCritic, critic_values


@dataclass
class Experience:
    """One rollout batch with everything the updates need, all ``(B, T)`` over reply tokens."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    start: int  # the column where replies begin
    mask: torch.Tensor
    old_logprobs: torch.Tensor
    old_values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    kl: torch.Tensor | None  # per-token KL(policy || base) estimate, or None when not computed
    lam: float = 1.0  # the GAE lambda this batch's advantages were computed with


def _chunks(size: int, micro: int) -> list[slice]:
    return [slice(i, min(i + micro, size)) for i in range(0, size, micro)]


@dataclass
class Forward:
    """The rollout-time passes over one batch: everything of the experience but the rewards."""

    rollout: RolloutBatch
    logprobs: torch.Tensor  # (B, T), masked
    values: torch.Tensor  # (B, T), masked
    kl: torch.Tensor | None


@torch.no_grad()
def experience_forward(ac: ActorCritic, rollout: RolloutBatch, *, config, micro_batch: int) -> Forward:
    """Rollout-time log-probs and values, and the reference (only when needed). Needs no reward, so
    the loop runs it while the judge's calls are in flight."""
    input_ids, attention_mask = rollout.input_ids, rollout.attention_mask
    start, mask = rollout.query_ids.shape[1], rollout.response_mask
    tokens = rollout.response_ids
    want_ref = config.kl_coef > 0 or config.log_kl
    logprobs, values, ref = [], [], []
    for rows in _chunks(len(tokens), micro_batch):
        ids, att = input_ids[rows], attention_mask[rows]
        kwargs = {"start": start, "temperature": config.temperature, "chunk_size": config.logprob_chunk_size}
        logprobs.append(reply_logprobs(ac, ids, att, tokens[rows], **kwargs)[0])
        values.append(critic_values(ac, ids, att, start=start))
        if want_ref:
            # The reference is the base itself (every adapter switched off), or the frozen copy of the
            # init_adapter the policy started from.
            ref.append(reply_logprobs(ac, ids, att, tokens[rows], adapter=ac.reference_adapter, **kwargs)[0])
    old_logprobs, old_values = torch.cat(logprobs) * mask, torch.cat(values) * mask
    kl = kl_estimate(old_logprobs, torch.cat(ref), kind=config.kl_estimator) * mask if want_ref else None
    return Forward(rollout, old_logprobs, old_values, kl)


def experience_from(forward: Forward, scores: torch.Tensor, *, config) -> Experience:
    """Per-token rewards (``scores``, one scalar per reply, on its last token; minus the KL penalty
    when ``kl_coef > 0``) and GAE advantages, whitened."""
    rollout, mask = forward.rollout, forward.rollout.response_mask
    rewards = last_token_rewards(scores, mask)
    if config.kl_coef > 0:
        rewards = rewards - config.kl_coef * forward.kl
    lam = batch_lambda(rewards, forward.values, mask, config=config)
    advantages, returns = gae_advantages(rewards, forward.values, mask, gamma=config.gamma, lam=lam)
    if config.whiten_advantages:
        advantages = masked_whiten(advantages, mask)
    return Experience(
        rollout.input_ids,
        rollout.attention_mask,
        rollout.query_ids.shape[1],
        mask,
        forward.logprobs,
        forward.values,
        advantages,
        returns,
        forward.kl,
        lam,
    )


def batch_lambda(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, *, config) -> float:
    """The GAE lambda of one batch. With one reward at a reply's end, lam < 1 gives a token's credit
    mostly through the critic's values, so while the critic is still noise the early tokens get
    little or noise: with ``lam_until_critic_explains`` the batch uses lam = 1 (Monte-Carlo returns)
    until the critic's values explain some of this batch's Monte-Carlo returns (explained variance > 0),
    and ``config.lam`` from then on. Decided per batch from the batch itself, so a resumed run decides
    as the uninterrupted one did."""
    if config.lam >= 1.0 or not getattr(config, "lam_until_critic_explains", False):
        return config.lam
    _, mc_returns = gae_advantages(rewards, values, mask, gamma=config.gamma, lam=1.0)
    return config.lam if explained_variance(values, mc_returns, mask) > 0 else 1.0


def make_experience(
    ac: ActorCritic,
    rollout: RolloutBatch,
    scores: torch.Tensor,
    *,
    config,
    micro_batch: int,
) -> Experience:
    """Both halves at once: :func:`experience_forward`, then :func:`experience_from` with ``scores``."""
    forward = experience_forward(ac, rollout, config=config, micro_batch=micro_batch)
    return experience_from(forward, scores, config=config)


def ppo_update(
    ac: ActorCritic,
    exp: Experience,
    optimizer: torch.optim.Optimizer,
    *,
    config,
    micro_batch: int,
    ctx: Distributed,
) -> dict[str, float]:
    """:func:`_ppo_update` in the update's mode: training mode with dropout 0 and, with
    ``config.gradient_checkpointing``, checkpointed decoder layers (engine/train/memory.py)."""
    with update_mode(ac, gradient_checkpointing=config.gradient_checkpointing):
        return _ppo_update(ac, exp, optimizer, config=config, micro_batch=micro_batch, ctx=ctx)


def _ppo_update(
    ac: ActorCritic,
    exp: Experience,
    optimizer: torch.optim.Optimizer,
    *,
    config,
    micro_batch: int,
    ctx: Distributed,
) -> dict[str, float]:
    """``ppo_epochs`` passes over the experience in ``num_mini_batches`` optimiser steps each, stopped
    early when the policy has left the trust region (``target_kl``). The first mini-batch is always
    stepped (its ratio is 1); the statistics are those of the mini-batches that were stepped.

    The policy and the critic run under different adapters of the same base, so their losses are
    back-propagated one after the other (peft freezes the inactive adapter) and stepped together.
    """
    size = exp.input_ids.shape[0]
    params = ac.trainable_parameters()
    stats: dict[str, list[float]] = {}
    updates, stopped = 0, False
    for _ in range(config.ppo_epochs):
        order = torch.randperm(size)
        for mini in order.chunk(config.num_mini_batches):
            optimizer.zero_grad(set_to_none=True)
            mini_stats: dict[str, list[float]] = {}
            for micro in mini.split(micro_batch):
                weight = len(micro) / len(mini)
                for key, value in _backward_micro(ac, exp, micro, config=config, weight=weight).items():
                    mini_stats.setdefault(key, []).append(value)
            # The trust region's early stop (Stable-Baselines3's rule): once the policy has moved more
            # than 1.5 x target_kl from the rollout policy on this mini-batch, drop its step and the rest.
            target_kl = getattr(config, "target_kl", None)
            if target_kl is not None and updates > 0:
                approx_kl = mean_over_ranks(
                    {"kl": sum(mini_stats["ppo/approx_kl"]) / len(mini_stats["ppo/approx_kl"])}, ctx
                )
                if approx_kl["kl"] > 1.5 * target_kl:
                    optimizer.zero_grad(set_to_none=True)
                    stopped = True
                    break
            for key, values in mini_stats.items():
                stats.setdefault(key, []).extend(values)
            all_reduce_gradients(params, ctx)  # in buckets; FSDP-sharded gradients are already reduced
            # actor and critic clipped apart: a large value loss must not shrink the policy's step
            clip = sharding.clip_grad_norm if ctx.sharded else torch.nn.utils.clip_grad_norm_
            grad_norm = clip(ac.policy_parameters(), config.max_grad_norm)
            critic_norm = clip(ac.critic_parameters(), config.max_grad_norm)
            stats.setdefault("ppo/grad_norm", []).append(float(grad_norm))
            stats.setdefault("ppo/critic_grad_norm", []).append(float(critic_norm))
            optimizer.step()
            updates += 1
        if stopped:
            break
    ac.model.set_adapter(POLICY)
    out = {key: sum(v) / len(v) for key, v in stats.items()}
    out["ppo/optimizer_steps"] = float(updates)
    out["ppo/early_stopped"] = float(stopped)
    return out


def _backward_micro(ac: ActorCritic, exp: Experience, rows: torch.Tensor, *, config, weight: float) -> dict:
    ids, att, mask = exp.input_ids[rows], exp.attention_mask[rows], exp.mask[rows]
    tokens = ids[:, exp.start :]
    # -- policy: clipped surrogate, minus the entropy bonus (the entropy has a graph only when trained)
    logprobs, token_entropy = reply_logprobs(
        ac, ids, att, tokens, start=exp.start, temperature=config.temperature,
        chunk_size=config.logprob_chunk_size, entropy=True, entropy_grad=config.ent_coef != 0,
    )  # fmt: skip
    entropy = masked_mean(token_entropy, mask)
    pg_loss, pg_clip = clipped_policy_loss(
        logprobs, exp.old_logprobs[rows], exp.advantages[rows], mask, clip_range=config.clip_range
    )
    ((pg_loss - config.ent_coef * entropy) * weight).backward()
    # -- critic: clipped value regression onto the GAE returns
    ac.model.set_adapter(VALUE)
    values = critic_values(ac, ids, att, start=exp.start)
    vf_loss, vf_clip = clipped_value_loss(
        values, exp.old_values[rows], exp.returns[rows], mask, clip_range=config.clip_range_value
    )
    (config.vf_coef * vf_loss * weight).backward()
    ac.model.set_adapter(POLICY)
    approx_kl = masked_mean(0.5 * (logprobs.detach() - exp.old_logprobs[rows]) ** 2, mask)
    return {
        "ppo/policy_loss": float(pg_loss.detach()),
        "ppo/value_loss": float(vf_loss.detach()),
        "ppo/clip_fraction": float(pg_clip.detach()),
        "ppo/value_clip_fraction": float(vf_clip.detach()),
        "ppo/entropy": float(entropy.detach()),
        "ppo/approx_kl": float(approx_kl.detach()),
    }


def experience_metrics(exp: Experience) -> dict[str, float]:
    """What the batch looked like before the update: critic quality, KL to the base, advantages."""
    metrics = {
        "ppo/explained_variance": explained_variance(exp.old_values, exp.returns, exp.mask),
        "ppo/value_mean": float(masked_mean(exp.old_values, exp.mask)),
        "ppo/return_mean": float(masked_mean(exp.returns, exp.mask)),
        "ppo/lam": float(exp.lam),
    }
    if exp.kl is not None:
        metrics["kl/to_initial"] = float((exp.kl).sum(dim=1).mean())
    return metrics
