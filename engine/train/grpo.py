"""GRPO with TRL's ``GRPOTrainer`` and a LoRA adapter, rewarded by the same sources as REPO.

The reward is one TRL reward function over ``RepoReward`` (engine.rewards), so that the paper's GRPO
baseline and the ablation "GRPO with the enhanced REPO reward" differ by one flag:

- ``use_enhanced_reward=True``: R_total = R_model + |R_model| * E_enh / n (docs/method.md);
- ``use_enhanced_reward=False``: R_model alone (the paper's GRPO);
- no RM configured: the enhanced constant R_model = 1, i.e. 1 + E_enh / n, so the judge's and the
  rules' points decide: rules-only GRPO for a first run before any RM exists. All three cases are
  ``engine.rewards.enhancement.training_reward``, the function PPO/REPO and the playground use too.

Rows are prompt-only conversations plus the case (``engine.prompting.prompt_row``); the case travels
as a JSON string column so the rules can check prices against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.config import GRPOConfig
from engine.prompting import template_kwargs
from engine.rewards.enhancement import DEFAULT_N, training_reward
from engine.score import reward_source


class RepoRewardFunction:
    """A TRL reward function: ``(prompts, completions, task_json, ...) -> list[float]``.

    Each source's batch mean and each rule's hit rate are logged through TRL's ``log_metric``, so that
    R_model, E_judge, E_func and R_total appear beside TRL's own metrics in ``metrics.jsonl``.
    """

    __name__ = "repo_reward"  # TRL names the reward column after the function

    def __init__(self, source: Any, *, use_enhanced: bool, has_rm: bool):
        self.source = source
        self.use_enhanced = use_enhanced
        self.has_rm = has_rm

    @classmethod
    def from_config(cls, config: GRPOConfig) -> RepoRewardFunction:
        return cls(
            reward_source(config.rewards),
            use_enhanced=config.use_enhanced_reward,
            has_rm=config.rewards.rm_path is not None,
        )

    def __call__(self, prompts, completions, task_json, log_metric=None, stage=None, **_: Any) -> list[float]:
        replies = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        # ``stage``: the prompt rows' SOP stage column, so that stage-scoped rubric rules apply only there
        scored = self.source.score(
            prompts=prompts, replies=replies, tasks=[json.loads(t) for t in task_json], stages=stage
        )
        n = getattr(self.source, "n", DEFAULT_N)
        rewards = [
            training_reward(
                r_model=r if self.has_rm else None, e_judge=j, e_func=f, n=n, use_enhanced=self.use_enhanced
            )
            for r, j, f in zip(scored.r_model, scored.e_judge, scored.e_func, strict=True)
        ]
        if log_metric is not None:  # reward/* means, rules/<id> and judge/<id> hit rates
            for name, value in scored.as_metrics().items():
                log_metric(name, value)
        return [float(r) for r in rewards]


def train(config: GRPOConfig, *, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    # TRL (which imports vLLM) loads here, not at import: the reward function above is light.
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import GRPOTrainer

    from engine.train.common import load_base_model, load_rows, load_tokenizer, lora_config, run_trainer, trl_arguments

    run_dir = Path(run_dir)
    common = trl_arguments(config, run_dir)
    # TRL's batch is counted in completions: each prompt's group of num_generations must fit in it.
    common["per_device_train_batch_size"] = config.per_device_batch_size * config.num_generations
    args = TRLGRPOConfig(
        **common,
        num_generations=config.num_generations,
        max_completion_length=config.max_response_length,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        epsilon=config.epsilon,
        loss_type=config.loss_type,
        remove_unused_columns=False,  # task_json must reach the reward function
        chat_template_kwargs=template_kwargs(config.chat_template_kwargs),
        log_completions=False,
    )
    trainer = GRPOTrainer(
        model=load_base_model(config),
        reward_funcs=[RepoRewardFunction.from_config(config)],
        args=args,
        train_dataset=load_rows(config.datasets, columns=("prompt",), json_columns=("task",), optional=("stage",)),
        processing_class=load_tokenizer(config),
        peft_config=lora_config(config),
    )
    return run_trainer(trainer, config=config, run_dir=run_dir, resume=resume)
