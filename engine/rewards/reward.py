"""One reward callable for REPO, PPO and GRPO: R_model, E_judge, E_func and R_total per reply.

docs/method.md: the RM is the primary reward; the judge's and the rules' points scale it through the
enhancement (``engine.rewards.enhancement``). REPO's only extra cost over PPO is the judge, so its
calls start first (concurrently, on their own thread and event loop) with ``start()``; the caller's
own work, then the RM and the rules run meanwhile, and ``result()`` joins them (docs/rewards.md, "RepoReward").

``rm`` or ``judge`` may be None: their contribution is then 0. Note what that means for R_total:
without an RM, R_model = 0 and so R_total = 0 whatever the judge and the rules say (the enhancement
is multiplicative by design); a rules-only or judge-only baseline must use E_judge + E_func itself.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.prompting import history_from_chat
from engine.rewards.enhancement import DEFAULT_N, enhanced_reward
from engine.rewards.judge import FAIL_TOO_LONG, JudgeItem, JudgeVerdict, RewardJudge, judge_from_config
from engine.rewards.rules import RulesLike, compile_rules

log = logging.getLogger(__name__)

# Share of a batch's judge calls that may fail before ``judge/failure_alarm`` is raised (and logged).
JUDGE_FAILURE_ALARM = 0.2


def judge_terms(verdicts: Sequence[JudgeVerdict]) -> list[float]:
    """E_judge per reply, where a failed call is *not* a free pass: under a deduction rubric a failed
    verdict's 0 would be about the best score, so it gets the mean E_judge of the batch's successful
    verdicts instead (0 when none succeeded; ``judge/failure_alarm`` is then raised).

    >>> ok, bad = JudgeVerdict(ok=True, e_judge=-20.0), JudgeVerdict.failed("timeout")
    >>> judge_terms([ok, JudgeVerdict(ok=True, e_judge=-10.0), bad])
    [-20.0, -10.0, -15.0]
    """
    succeeded = [v.e_judge for v in verdicts if v.ok]
    fill = sum(succeeded) / len(succeeded) if succeeded else 0.0
    return [v.e_judge if v.ok else fill for v in verdicts]


@dataclass
class RewardBatch:
    r_model: list[float]
    e_judge: list[float]
    e_func: list[float]
    r_total: list[float]
    rule_hits: list[list[str]]  # rule ids broken, per reply
    judge_hits: list[list[str]]  # rubric ids hit, per reply
    judge_failures: int = 0  # neutral verdicts (failed calls) in this batch
    judge_too_long: int = 0  # of which: prompts that did not fit the judge's context (never sent)
    judge_truncated: int = 0  # verdicts whose prompt lost its oldest dialogue messages to fit the context
    rule_ids: tuple[str, ...] = ()  # every enabled rule, so that a rate of 0 is logged too
    judge_ids: tuple[str, ...] = ()
    violations: list[list[Any]] = field(default_factory=list)  # the rules' Violation objects, per reply

    def as_metrics(self) -> dict[str, float]:
        """Batch means of the four values and the hit rate of each rule (``rules/<id>``, ``judge/<id>``)."""
        size = max(len(self.r_total), 1)
        metrics = {
            f"reward/{name}": sum(getattr(self, name)) / size for name in ("r_model", "e_judge", "e_func", "r_total")
        }
        # the share of replies the RM scores above its reference centre (R_model > 0)
        metrics["reward/r_model_positive"] = sum(1 for r in self.r_model if r > 0) / size
        for prefix, ids, hits in (("rules", self.rule_ids, self.rule_hits), ("judge", self.judge_ids, self.judge_hits)):
            for rule_id in ids:
                metrics[f"{prefix}/{rule_id}"] = sum(rule_id in h for h in hits) / size
        metrics["judge/failures"] = float(self.judge_failures)
        metrics["judge/failure_rate"] = self.judge_failures / size if self.judge_ids else 0.0
        alarm = metrics["judge/failure_rate"] > JUDGE_FAILURE_ALARM
        metrics["judge/failure_alarm"] = float(alarm)
        if alarm:
            log.warning(
                "judge failures %.0f%% of the batch (over %.0f%%): their judge terms are the batch mean of the "
                "successful verdicts; check the judge server",
                100 * metrics["judge/failure_rate"],
                100 * JUDGE_FAILURE_ALARM,
            )
        metrics["judge/too_long"] = float(self.judge_too_long)
        metrics["judge/truncated"] = float(self.judge_truncated)
        return metrics


class PendingRewards:
    """A batch being scored: the judge's calls are in flight; ``result()`` finishes (once) and returns it."""

    def __init__(self, finish: Callable[[], RewardBatch]):
        self._finish: Callable[[], RewardBatch] | None = finish
        self._batch: RewardBatch | None = None

    def result(self) -> RewardBatch:
        if self._finish is not None:
            self._batch, self._finish = self._finish(), None
        return self._batch


class RepoReward:
    """``score(prompts=, replies=, tasks=)`` for our trainers; ``__call__`` for TRL's ``GRPOTrainer``.

    ``rm``: anything with ``score(*, prompts, replies) -> list[float]`` returning centred scores
    (:class:`engine.rewards.rm.RewardModelScorer`); ``judge``: a :class:`RewardJudge` (or anything with its
    ``judge_batch``, ``rubric`` and ``stats``: ``engine.rewards.judge.judge_from_config``); ``rules``: a
    rule-set document, :class:`RuleSet` or compiled set, None for the default set; ``use_rules=False``
    turns the rules off (E_func = 0).
    """

    __name__ = "repo_reward"  # TRL names the reward's log column after the function

    def __init__(
        self,
        rm=None,
        judge: RewardJudge | None = None,
        rules: RulesLike = None,
        n: float = DEFAULT_N,
        *,
        use_rules: bool = True,
    ):
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        self.rm, self.judge, self.n = rm, judge, n
        self.rules = compile_rules(rules) if use_rules else None

    @classmethod
    def from_config(cls, config: Any, *, device: Any = None) -> RepoReward:
        """From :class:`engine.config.RewardSourcesConfig` (RM run dir, judge config, rules, n); the RM
        is loaded onto ``device`` (None: the CPU)."""
        rm = judge = None
        if config.rm_path:
            from engine.rewards.rm import RewardModelScorer

            rm = RewardModelScorer.from_dir(config.rm_path, device=device)
        if config.judge is not None:
            judge = judge_from_config(config.judge)
        rules = config.rules
        if isinstance(rules, str):
            rules = json.loads(Path(rules).read_text(encoding="utf-8"))
        return cls(rm=rm, judge=judge, rules=rules, n=config.n, use_rules=config.use_rules)

    # -- the batch interface ---------------------------------------------------------------------------
    def score(self, **batch: Any) -> RewardBatch:
        """All four rewards for a batch, waiting for them: ``start(**batch).result()``."""
        return self.start(**batch).result()

    def start(
        self,
        *,
        prompts: list[list[dict]],
        replies: list[str],
        tasks: list[dict],
        stages: Sequence[str | None] | None = None,
    ) -> PendingRewards:
        """Send the judge's calls now and return at once; ``result()`` scores the RM and the rules and
        joins the judge. A trainer does its own forward passes in between, so the judge's latency hides
        behind them (``engine.train.ppo``, step 2). ``prompts`` are chat messages
        (``engine.prompting.to_chat``), one per reply."""
        if not len(prompts) == len(replies) == len(tasks):
            raise ValueError(f"batch sizes differ: {len(prompts)} prompts, {len(replies)} replies, {len(tasks)} tasks")
        histories = [history_from_chat(p) for p in prompts]
        stages = list(stages) if stages is not None else [None] * len(replies)
        verdicts, judge_thread = self._start_judge(histories, replies, tasks, stages)
        return PendingRewards(lambda: self._finish(prompts, replies, tasks, histories, verdicts, judge_thread))

    def _finish(self, prompts, replies, tasks, histories, verdicts, judge_thread) -> RewardBatch:
        # ---- while the judge's calls are in flight: the RM and the rules --------------------------------
        r_model = (
            [float(x) for x in self.rm.score(prompts=prompts, replies=replies)] if self.rm else [0.0] * len(replies)
        )
        violations = [
            self.rules.check(reply, task=task, history=history) if self.rules else []
            for reply, task, history in zip(replies, tasks, histories, strict=True)
        ]
        if judge_thread is not None:
            judge_thread.join()
        e_judge = judge_terms(verdicts) if verdicts else [0.0] * len(replies)
        e_func = [float(sum(v.points for v in vs)) for vs in violations]
        return RewardBatch(
            r_model=r_model,
            e_judge=e_judge,
            e_func=e_func,
            r_total=[enhanced_reward(r, j, f, self.n) for r, j, f in zip(r_model, e_judge, e_func, strict=True)],
            rule_hits=[[v.rule for v in vs] for vs in violations],
            judge_hits=[list(v.hits) for v in verdicts] if verdicts else [[] for _ in replies],
            judge_failures=sum(not v.ok for v in verdicts),
            judge_too_long=sum(v.kind == FAIL_TOO_LONG for v in verdicts),
            judge_truncated=sum(v.ok and v.dropped_messages > 0 for v in verdicts),
            rule_ids=self.rules.rule_ids if self.rules else (),
            judge_ids=tuple(r.id for r in self.judge.rubric.rules) if self.judge else (),
            violations=violations,
        )

    def _start_judge(self, histories, replies, tasks, stages) -> tuple[list[JudgeVerdict], threading.Thread | None]:
        """Start the judge's calls on a thread of their own; the list fills when the thread ends."""
        if self.judge is None:
            return [], None
        items = [
            JudgeItem(task=t, history=h, reply=r, stage=s)
            for t, h, r, s in zip(tasks, histories, replies, stages, strict=True)
        ]
        verdicts: list[JudgeVerdict] = []

        def run() -> None:
            try:
                verdicts.extend(self.judge.judge_batch(items))
            except Exception as exc:  # never into the training step: neutral verdicts, counted
                verdicts[:] = [JudgeVerdict.failed(f"judge batch crashed: {exc!r}") for _ in items]
                self.judge.stats.failures += len(items)

        thread = threading.Thread(target=run, name="repo-judge", daemon=True)
        thread.start()
        return verdicts, thread

    # -- TRL GRPOTrainer reward function ---------------------------------------------------------------
    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float]:
        """R_total per completion; the case comes from the dataset's ``task`` column (dict or JSON)."""
        tasks = kwargs.get("task")
        if tasks is None and "task_json" in kwargs:
            tasks = kwargs["task_json"]
        if tasks is None:
            raise KeyError("RepoReward needs the dataset's 'task' column (the case of each prompt)")
        tasks = [json.loads(t) if isinstance(t, str) else t for t in tasks]
        replies = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        prompts = [p if isinstance(p, list) else [{"role": "user", "content": p}] for p in prompts]
        batch = self.score(prompts=prompts, replies=replies, tasks=tasks, stages=kwargs.get("stage"))
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for key, value in batch.as_metrics().items():
                log_metric(key, value)
        return batch.r_total
