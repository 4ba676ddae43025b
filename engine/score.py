"""``python -m engine score``: the three reward sources on finished replies, one output row each.

Input rows ``{"id", "prompt": [chat messages], "task": {...}, "reply": str}`` (the prompt export joined
with ``engine generate``'s output); output rows ``{"id", "r_model", "e_judge", "e_func", "r_total",
"violations": [{"rule", "points", "evidence"}]}``. The scoring itself is ``engine.rewards.RepoReward``,
the same callable the RL trainers use, so an evaluation scores replies exactly as training did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import ConfigError, JudgeConfig, RewardSourcesConfig
from engine.generate import write_rows
from engine.prompting import history_from_chat


def reward_source(config: RewardSourcesConfig) -> Any:
    """``engine.rewards.RepoReward`` built from ``config`` (RM, judge, rules, n).

    An engine without ``RepoReward`` still scores rules-only configs through the rule functions;
    asking it for the RM or the judge is a config error.
    """
    try:
        from engine.rewards import RepoReward
    except ImportError:
        if config.rm_path or config.judge:
            raise ConfigError("this engine has no RepoReward: only rules-only rewards are available") from None
        return RulesOnlyReward(config)
    return RepoReward.from_config(config)


def rule_document(rules: dict | str | None) -> dict | None:
    """A rule-set document given inline or as a path to its JSON file (None = the default set)."""
    if isinstance(rules, str):
        try:
            return json.loads(Path(rules).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read rule set {rules}: {exc}") from None
    return rules


@dataclass
class Scored:
    r_model: list[float]
    e_judge: list[float]
    e_func: list[float]
    r_total: list[float]


class RulesOnlyReward:
    """E_func from the rule functions; R_model, E_judge and so R_total are 0."""

    def __init__(self, config: RewardSourcesConfig):
        from engine.rewards import rules

        self.rules = rules
        self.rule_set = rules.compile_rules(rule_document(config.rules))
        self.enabled = config.use_rules

    def score(self, *, prompts, replies, tasks) -> Scored:
        zeros = [0.0] * len(replies)
        if not self.enabled:
            return Scored(zeros, zeros, zeros, zeros)
        e_func = [
            self.rules.score(reply, task=task, history=history_from_chat(prompt), rules=self.rule_set)
            for prompt, reply, task in zip(prompts, replies, tasks, strict=True)
        ]
        return Scored(zeros, zeros, e_func, zeros)


def _read_rows(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
        missing = [key for key in ("prompt", "task", "reply") if key not in row]
        if missing:
            raise ConfigError(f"{path}:{number}: missing {', '.join(missing)}")
        rows.append({**row, "id": row.get("id", number - 1)})
    return rows


def score_file(
    *,
    replies: Path,
    out: Path,
    rules: str | None = None,
    no_rules: bool = False,
    judge_url: str | None = None,
    judge_model: str = "judge",
    rubric: str | None = None,
    rm: str | None = None,
    n: float = 100.0,
) -> int:
    """Score every row of ``replies`` into ``out``; returns the number of rows."""
    rows = _read_rows(replies)
    config = RewardSourcesConfig(
        rm_path=rm,
        judge=JudgeConfig(base_url=judge_url, model=judge_model, rubric=rubric) if judge_url else None,
        rules=rules,
        use_rules=not no_rules,
        n=n,
    )
    source = reward_source(config)
    scored = source.score(
        prompts=[r["prompt"] for r in rows], replies=[r["reply"] for r in rows], tasks=[r["task"] for r in rows]
    )
    rule_set = rule_document(rules)
    write_rows(
        out,
        [
            {
                "id": row["id"],
                "r_model": scored.r_model[i],
                "e_judge": scored.e_judge[i],
                "e_func": scored.e_func[i],
                "r_total": scored.r_total[i],
                "violations": [] if no_rules else _violations(row, rule_set),
            }
            for i, row in enumerate(rows)
        ],
    )
    return len(rows)


def _violations(row: dict, rule_set: dict | None) -> list[dict]:
    from engine.rewards import rules

    hits = rules.check(row["reply"], task=row["task"], history=history_from_chat(row["prompt"]), rules=rule_set)
    return [{"rule": v.rule, "points": v.points, "evidence": v.evidence, "span": list(v.span)} for v in hits]
