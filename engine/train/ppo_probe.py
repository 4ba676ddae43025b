"""The training-time probe (docs/method.md, "The evaluation protocol"): every ``probe_every`` steps the current
policy answers a fixed held-out probe set greedily and the judge scores it (the paper: 20 dialogues);
with no judge configured the rules score it. Logged as ``probe/score`` beside the R_total and the
rule-violation rate of the same replies, so the curve of a run can be read against its rewards.
"""

from __future__ import annotations

from typing import Any

from engine.rundir import PROBE_R_TOTAL, PROBE_SCORE, PROBE_SIZE, PROBE_VIOLATION_RATE
from engine.train.ppo_data import encode_prompt, read_prompt_rows
from engine.train.ppo_dist import Distributed
from engine.train.ppo_model import ActorCritic


class Probe:
    def __init__(
        self,
        *,
        rows: list[dict[str, Any]],
        rewards,
        uses_judge: bool,
        max_prompt_length: int,
        template_kwargs: dict | None = None,
    ):
        self.template_kwargs = template_kwargs
        self.rows, self.rewards, self.uses_judge = rows, rewards, uses_judge
        self.max_prompt_length = max_prompt_length

    @classmethod
    def from_config(cls, config, *, rewards) -> Probe | None:
        """The probe on ``probe_dataset`` (else ``eval_dataset``); None when neither is set."""
        path = config.probe_dataset or config.eval_dataset
        if not path or config.probe_every <= 0:
            return None
        rows = read_prompt_rows([path])[: config.probe_size]
        return cls(
            rows=rows,
            rewards=rewards,
            uses_judge=config.rewards.judge is not None,
            max_prompt_length=config.max_prompt_length,
            template_kwargs=config.chat_template_kwargs,
        )

    def run(self, ac: ActorCritic, *, backend, ctx: Distributed) -> dict[str, float]:
        """Greedy replies on the probe set, scored; rank 0 only (the others' weights are identical).
        With a sharded model generating in the trainer (``backend.synced``) every rank takes part in the
        generation, and rank 0 alone scores."""
        collective = getattr(backend, "synced", False)
        if not ctx.is_main and not collective:
            return {}
        prompts = [
            encode_prompt(
                ac.tokenizer, r["prompt"], max_length=self.max_prompt_length, template_kwargs=self.template_kwargs
            )
            for r in self.rows
        ]
        sample = backend.generate(ac, prompts, greedy=True)
        if not ctx.is_main:
            return {}
        scored = self.rewards.score(
            prompts=[r["prompt"] for r in self.rows],
            replies=sample.texts,
            tasks=[r["task"] for r in self.rows],
            stages=[r.get("stage") for r in self.rows],
        )
        return probe_metrics(scored, uses_judge=self.uses_judge)


def probe_metrics(scored, *, uses_judge: bool) -> dict[str, float]:
    """``probe/score``: the judge's mean points when a judge is configured, else the rules' (E_func)."""
    n = max(len(scored.r_total), 1)
    source = scored.e_judge if uses_judge else scored.e_func
    violated = sum(1 for hits in scored.rule_hits if hits)
    return {
        PROBE_SCORE: sum(source) / n,
        PROBE_R_TOTAL: sum(scored.r_total) / n,
        PROBE_VIOLATION_RATE: violated / n,
        PROBE_SIZE: float(len(scored.r_total)),
    }
