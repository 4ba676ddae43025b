"""Our own PPO and REPO loop: LoRA actor-critic on one frozen base, one reward per reply.

Read it top to bottom like CleanRL's ``ppo.py``: setup, then per step (1) roll out, (2) score and
(3) build the experience (log-probs, values, optional reference, GAE) overlapped so that the judge's
calls run beside the forward passes, (4) clipped updates,
(5) push the new adapter to the rollout server, (6) log, probe, checkpoint.

REPO (docs/method.md) = ``REPOConfig``: the enhanced reward R_total, no KL, no reference. The paper's PPO
baseline = ``PPOConfig``: the RM score alone, the same KL setting (``kl_coef``, 0 by default for both).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import load_checkpoint, seed_everything, set_rng_state
from engine.rundir import ADAPTER_DIR, LOOP_LAYOUT, RunWriter, latest_checkpoint, run_result, trim_metrics
from engine.train.ppo_checkpoint import save_training_state
from engine.train.ppo_config import FSDP_PREFETCH, PPOConfig, REPOConfig
from engine.train.ppo_data import PromptStream, encode_prompt, fit_prompt, read_prompt_rows, total_steps
from engine.train.ppo_dist import (
    Distributed,
    barrier,
    gather_objects,
    init_distributed,
    mean_over_ranks,
    parameter_digest,
    shutdown_distributed,
)
from engine.train.ppo_model import ActorCritic, base_dtype, build_actor_critic, save_policy_adapter
from engine.train.ppo_probe import Probe
from engine.train.ppo_rewards import build_reward_source, reply_scores
from engine.train.ppo_rollout import check_sampled_drift, make_rollout_backend
from engine.train.ppo_update import experience_forward, experience_from, experience_metrics, ppo_update
from engine.train.sharding import load_optimizer_state, shard_actor_critic

__all__ = ["PPOConfig", "REPOConfig", "train"]


def train(config: PPOConfig, *, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Run PPO or REPO from ``config`` into ``run_dir``; returns what ``result.json`` holds."""
    run_dir = Path(run_dir)
    ctx = init_distributed(parallel=config.parallel)
    try:
        return _train(config, run_dir=run_dir, resume=resume, ctx=ctx)
    finally:
        shutdown_distributed(ctx)


def _train(config: PPOConfig, *, run_dir: Path, resume: bool, ctx: Distributed) -> dict[str, Any]:
    # ------------------------------------------------------------------------------------------
    # Setup: the same seed on every rank builds identical adapters; sampling then differs per rank
    # ------------------------------------------------------------------------------------------
    torch.set_num_threads(max(1, torch.get_num_threads() // ctx.world_size))
    seed_everything(config.seed)
    # cuda:LOCAL_RANK on a GPU (ppo_dist.train_device); the base in config.dtype ("auto": bf16 on CUDA)
    # Sharded: built on the host, then each rank moves only its shards to the device (shard_actor_critic)
    ac = build_actor_critic(
        config, dtype=base_dtype(config, device=ctx.device), device="cpu" if ctx.sharded else ctx.device
    )
    seed_everything(config.seed + ctx.rank)
    rows = read_prompt_rows(config.datasets)
    stream = PromptStream(rows, seed=config.seed)
    batch_size = config.per_device_batch_size * config.gradient_accumulation_steps  # per rank
    steps = total_steps(
        num_rows=len(rows),
        batch_size=batch_size * ctx.world_size,
        num_epochs=config.num_epochs,
        max_steps=config.max_steps,
    )
    rewards = build_reward_source(config, ac=ac)
    if ctx.sharded:  # FSDP2 over the base, every adapter (the RM's too) and the value head
        prefetch = FSDP_PREFETCH[config.fsdp_prefetch]
        shard_actor_critic(ac, world_size=ctx.world_size, device=ctx.device, unit=config.fsdp_unit, prefetch=prefetch)
    optimizer = build_optimizer(ac, config)
    scheduler = warmup_schedule(optimizer, warmup_steps=config.warmup_steps)
    check_prompt = encode_prompt(
        ac.tokenizer, rows[0]["prompt"], max_length=config.max_prompt_length,
        template_kwargs=config.chat_template_kwargs,
    )  # fmt: skip
    rollout = make_rollout_backend(config, ac, run_dir=run_dir, ctx=ctx, check_prompt=check_prompt)
    probe = Probe.from_config(config, rewards=rewards)

    start = 0
    checkpoint = latest_checkpoint(run_dir, layout=LOOP_LAYOUT) if resume else None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint.path)  # onto the CPU; copied into the model and optimiser on their device
        ac.load_trainable_state(state["trainable"])
        load_optimizer_state(optimizer, state["optimizer"])  # whole tensors; sharded here when FSDP
        scheduler.load_state_dict(state["scheduler"])
        stream.load_state_dict(state["data"])
        start = state["step"]
        if len(state["rng"]) == ctx.world_size:
            set_rng_state(state["rng"][ctx.rank])
        else:  # resumed on another number of processes: still deterministic, no longer bit-identical
            seed_everything(config.seed + ctx.rank + 1_000 * start)
        if ctx.is_main:
            trim_metrics(run_dir, after_step=start)
    rollout.after_update(ac, step=start)  # a vLLM server starts out with whatever it last loaded
    writer = RunWriter(run_dir, total_steps=steps, is_main=ctx.is_main)
    writer.advance(start)

    with writer:
        if start == 0 and probe is not None:
            writer.log(0, probe.run(ac, backend=rollout, ctx=ctx))  # the starting policy: the probe's baseline
        metrics: dict[str, float] = {}
        for step in range(start + 1, steps + 1):
            t0 = time.perf_counter()
            # --------------------------------------------------------------------------------------
            # 1. Rollout: this rank's slice of the global batch, one sampled reply per prompt
            # --------------------------------------------------------------------------------------
            global_rows = stream.next_batch(batch_size * ctx.world_size)
            batch_rows = global_rows[ctx.rank * batch_size : (ctx.rank + 1) * batch_size]
            fitted = [
                fit_prompt(
                    ac.tokenizer,
                    row["prompt"],
                    max_length=config.max_prompt_length,
                    template_kwargs=config.chat_template_kwargs,
                )  # fmt: skip
                for row in batch_rows
            ]
            prompt_ids = [ids for ids, _ in fitted]
            sample = rollout.generate(ac, prompt_ids)
            t1 = time.perf_counter()
            # --------------------------------------------------------------------------------------
            # 2. Score and 3. experience, overlapped: the judge's calls go out first; the rollout-time
            #    log-probs, values and reference run while they are in flight; then the RM and the
            #    rules, the join, one reward per reply (R_total for REPO, R_model for PPO) and GAE
            # --------------------------------------------------------------------------------------
            pending = rewards.start(
                prompts=[row["prompt"] for row in batch_rows],
                replies=sample.texts,
                tasks=[row["task"] for row in batch_rows],
                stages=[row.get("stage") for row in batch_rows],  # stage-scoped rubric rules apply only there
            )
            forward = experience_forward(ac, sample, config=config, micro_batch=config.per_device_batch_size)
            # the sampled drift check: were the replies drawn from the distribution the loss assumes?
            drift = check_sampled_drift(sample, forward.logprobs, config=config, ctx=ctx)
            t2 = time.perf_counter()
            scored = pending.result()
            scores = reply_scores(scored, sample.ended, config=config)
            exp = experience_from(forward, scores, config=config)
            t3 = time.perf_counter()
            # --------------------------------------------------------------------------------------
            # 4. Update: clipped policy and value losses, gradients averaged over ranks
            # --------------------------------------------------------------------------------------
            update = ppo_update(ac, exp, optimizer, config=config, micro_batch=config.per_device_batch_size, ctx=ctx)
            scheduler.step()
            t4 = time.perf_counter()
            # --------------------------------------------------------------------------------------
            # 5. Push the new policy to the rollout server and check it serves what we trained
            # --------------------------------------------------------------------------------------
            push = rollout.after_update(ac, step=step)
            t5 = time.perf_counter()
            # --------------------------------------------------------------------------------------
            # 6. Log, probe, checkpoint
            # --------------------------------------------------------------------------------------
            metrics = {
                **scored.as_metrics(),
                "reward/score": float(scores.mean()),
                **experience_metrics(exp),
                **update,
                **push,
                **drift,
                "rollout/response_length": float(sample.lengths.mean()),
                "rollout/eos_rate": float(sample.ended.float().mean()),
                # share of prompts over max_prompt_length, shortened by dropping their oldest turns
                "rollout/truncated_prompts": sum(1 for _, dropped in fitted if dropped) / len(fitted),
                "lr": scheduler.get_last_lr()[0],
            }
            metrics = mean_over_ranks(metrics, ctx)
            metrics.update(
                {
                    "time/rollout_s": t1 - t0,
                    "time/experience_s": t2 - t1,  # the forward passes, with the judge's calls in flight
                    "time/reward_s": t3 - t2,  # RM, rules, then waiting for the judge; GAE
                    "time/update_s": t4 - t3,
                    "time/push_s": t5 - t4,
                    "time/step_s": t5 - t0,
                }
            )
            if probe is not None and step % config.probe_every == 0:
                metrics.update(probe.run(ac, backend=rollout, ctx=ctx))
            if step % config.logging_every == 0 or step == steps:
                writer.log(step, metrics)
                writer.samples(step, reply_samples(batch_rows, sample.texts, scored, limit=config.samples_per_log))
            else:
                writer.advance(step)
            if step % config.save_every == 0 or step == steps:
                save_training_state(
                    ac=ac, run_dir=run_dir, step=step, optimizer=optimizer, scheduler=scheduler,
                    stream=stream, ctx=ctx, metrics=metrics,
                )  # fmt: skip
        # ------------------------------------------------------------------------------------------
        # Done: the final policy adapter is the run's deliverable
        # ------------------------------------------------------------------------------------------
        adapter = _final_adapter(ac, run_dir=run_dir, ctx=ctx)
        digests = gather_objects(parameter_digest(ac.trainable_parameters()), ctx)
        return writer.finish(
            run_result(
                method=config.method,
                steps=steps,
                adapter=adapter,
                resumed_from=start,
                metrics=metrics,
                base_model=config.base_model,
                world_size=ctx.world_size,
                replicas_in_sync=len(set(digests)) == 1,  # every rank ended with the same weights
                parameter_digests=digests,
            )
        )


def build_optimizer(ac: ActorCritic, config: PPOConfig) -> torch.optim.AdamW:
    """AdamW with two parameter groups: the actor at ``learning_rate``, the critic (value adapter and
    head) at ``critic_learning_rate`` (default: the same)."""
    critic_lr = config.critic_learning_rate or config.learning_rate
    groups = [
        {"params": ac.policy_parameters(), "lr": config.learning_rate},
        {"params": ac.critic_parameters(), "lr": critic_lr},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, eps=1e-5)


def warmup_schedule(optimizer: torch.optim.Optimizer, *, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the peak learning rate, then constant; step ``k`` (from 1) runs at
    ``k / (warmup_steps + 1)`` of the peak, so the first step already learns (transformers'
    ``get_constant_schedule_with_warmup`` runs it at 0).

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = warmup_schedule(opt, warmup_steps=1)
    >>> lrs = []
    >>> for _ in range(3):
    ...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> lrs
    [0.5, 1.0, 1.0]
    """
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: min(1.0, (done + 1) / (warmup_steps + 1)))


def reply_samples(rows: list[dict], replies: list[str], scored, *, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` replies of this rank's batch with what produced them, for the job page: the
    prompt's system message (the case, cut to 600 characters), the hotel's last message, the reply,
    the reward breakdown, and per broken rule its id, points and the words that triggered it."""
    samples = []
    for i, row in enumerate(rows[:limit]):
        last_user = next((m["content"] for m in reversed(row["prompt"]) if m["role"] == "user"), "")
        system = next((m["content"] for m in row["prompt"] if m["role"] == "system"), "")
        violations = scored.violations[i] if i < len(scored.violations) else []
        samples.append(
            {
                "prompt": system[:600],
                "prompt_text": last_user[-300:],
                "hotel_message": last_user[-600:],
                "reply": replies[i],
                "r_model": scored.r_model[i],
                "e_judge": scored.e_judge[i],
                "e_func": scored.e_func[i],
                "r_total": scored.r_total[i],
                "rules": list(scored.rule_hits[i]),
                "evidence": [
                    {"rule": v.rule, "points": float(v.points), "evidence": str(v.evidence)[:200]} for v in violations
                ],
                "judge_hits": list(scored.judge_hits[i]) if i < len(scored.judge_hits) else [],
            }
        )
    return samples


def _final_adapter(ac: ActorCritic, *, run_dir: Path, ctx: Distributed) -> str | None:
    state = ac.policy_adapter_state() if ctx.sharded else None  # gathered on every rank
    path = save_policy_adapter(ac, run_dir / ADAPTER_DIR, state=state) if ctx.is_main else None
    barrier(ctx)
    return path
