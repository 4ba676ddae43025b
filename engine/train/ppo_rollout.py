"""The loop's view of a rollout backend: ``generate(ac, prompts)`` and ``after_update(ac, step=)``.

``hf``: transformers' ``generate`` on the trainer's own model (nothing to push). ``vllm``: the
server in ``config.vllm_base_url``; after every update rank 0 pushes the policy adapter and runs the
drift check (all ranks wait for it, and all ranks then sample from the same served adapter).
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.rollout import RolloutBatch, SamplingDriftError, concat_rollouts, sampled_drift
from engine.rollout.hf import generate_hf
from engine.rollout.vllm import VLLMClient, VLLMRollout
from engine.rundir import ROLLOUT_ADAPTERS_DIR
from engine.train.memory import reply_logprobs
from engine.train.ppo_dist import Distributed, barrier, broadcast_object, mean_over_ranks
from engine.train.ppo_model import POLICY, ActorCritic, save_policy_adapter


class HFBackend:
    def __init__(self, config, *, synced: bool = False):
        # synced: the model is sharded (FSDP), so every rank runs generate's forward passes until the
        # last rank's replies are done (transformers' synced_gpus)
        self.config, self.synced = config, synced

    def generate(self, ac: ActorCritic, prompts: list[list[int]], *, greedy: bool = False) -> RolloutBatch:
        cfg = self.config
        ac.model.set_adapter(POLICY)
        micro = cfg.per_device_batch_size
        parts = [
            generate_hf(
                ac.model,
                ac.tokenizer,
                prompts[i : i + micro],
                max_new_tokens=cfg.max_response_length,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                greedy=greedy,
                # the sampled drift check compares these with the trainer's log-probs
                sampler_logprobs=not greedy and cfg.sampled_drift_tolerance is not None,
                synced=self.synced,
            )  # fmt: skip
            for i in range(0, len(prompts), micro)
        ]
        return concat_rollouts(parts, pad_id=ac.tokenizer.pad_token_id)

    def after_update(self, ac: ActorCritic, *, step: int) -> dict[str, float]:
        return {}


class VLLMBackend:
    def __init__(self, config, *, ac: ActorCritic, run_dir: Path, ctx: Distributed, check_prompt: list[int]):
        self.ctx, self.check_prompt = ctx, check_prompt
        self.rollout = VLLMRollout(
            client=VLLMClient(config.vllm_base_url),
            lora_name=config.vllm_lora_name,
            adapter_root=Path(run_dir) / ROLLOUT_ADAPTERS_DIR,
            tokenizer=ac.tokenizer,
            config=config,
        )

    def generate(self, ac: ActorCritic, prompts: list[list[int]], *, greedy: bool = False) -> RolloutBatch:
        return self.rollout.generate(prompts, greedy=greedy).to(ac.device)  # the server's tokens, to the trainer

    def after_update(self, ac: ActorCritic, *, step: int) -> dict[str, float]:
        drift = 0.0
        if self.ctx.sharded:
            # FSDP: every rank gathers the adapter and runs the trainer's side of the drift check (a
            # forward pass over sharded weights); rank 0 talks to the server and hands the sample over.
            state = ac.policy_adapter_state()
            if self.ctx.is_main:
                self.rollout.push(lambda out: save_policy_adapter(ac, out, state=state), step=step)
                drift = self.rollout.drift_check(
                    lambda s: trainer_logprobs(ac, broadcast_object(s, self.ctx)), prompt=self.check_prompt
                )
            else:
                trainer_logprobs(ac, broadcast_object(None, self.ctx))
        elif self.ctx.is_main:
            self.rollout.push(lambda out: save_policy_adapter(ac, out), step=step)
            drift = self.rollout.drift_check(lambda s: trainer_logprobs(ac, s), prompt=self.check_prompt)
        barrier(self.ctx)
        return {"rollout/drift": drift} if self.ctx.is_main else {"rollout/drift": 0.0}


@torch.no_grad()
def trainer_logprobs(ac: ActorCritic, sample: RolloutBatch) -> torch.Tensor:
    """The policy's raw (temperature 1) log-probs of a sample's reply tokens, on the CPU (beside the
    server's)."""
    sample = sample.to(ac.device)
    # the loop's log-prob function: vocabulary-parallel under parallel fsdp (every rank calls this then)
    ids, att = sample.input_ids, sample.attention_mask
    return reply_logprobs(ac, ids, att, sample.response_ids, start=sample.query_ids.shape[1])[0].cpu()


def check_sampled_drift(sample: RolloutBatch, trainer: torch.Tensor, *, config, ctx: Distributed) -> dict[str, float]:
    """The sampled drift check of one step: the sampler's log-probs of its sampled tokens against the
    trainer's (``trainer``, at the training temperature), averaged over ranks so that every rank takes
    the same decision; raises :class:`SamplingDriftError` past ``config.sampled_drift_tolerance``."""
    tolerance = config.sampled_drift_tolerance
    if tolerance is None or sample.sampler_logprobs is None:
        return {}
    drift = sampled_drift(sample.sampler_logprobs, trainer, sample.response_mask)
    drift = mean_over_ranks(
        {
            "rollout/sampled_kl": drift["kl"],
            "rollout/sampled_drift": drift["mean"],
            "rollout/sampled_drift_max": drift["max"],
        },
        ctx,
    )
    if drift["rollout/sampled_kl"] > tolerance:
        raise SamplingDriftError(
            f"The rollouts were not sampled from the distribution the loss assumes: the {config.rollout_backend} "
            f"sampler's log-probs of its sampled tokens exceed the trainer's by {drift['rollout/sampled_kl']:.4f} on "
            f"average, an estimate of KL(sampler || policy) (tolerance {tolerance}; mean |delta log p| "
            f"{drift['rollout/sampled_drift']:.4f}, largest {drift['rollout/sampled_drift_max']:.4f}). Look for a "
            "repetition penalty, top-k or min-p on the sampler's side (a generation_config.json the engine picked "
            "up, a server started without --generation-config vllm or --logprobs-mode processed_logprobs), "
            "top_p < 1, or a stale adapter on the rollout server."
        )
    return drift


def make_rollout_backend(config, ac: ActorCritic, *, run_dir: Path, ctx: Distributed, check_prompt: list[int]):
    if config.rollout_backend == "vllm":
        return VLLMBackend(config, ac=ac, run_dir=run_dir, ctx=ctx, check_prompt=check_prompt)
    return HFBackend(config, synced=ctx.sharded)
