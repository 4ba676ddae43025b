"""``python -m engine score``: the three reward sources on finished replies, one output row each.

Input rows ``{"id", "prompt": [chat messages], "task": {...}, "reply": str}`` (the prompt export joined
with ``engine generate``'s output); output rows ``{"id", "r_model", "e_judge", "e_func", "r_total",
"violations": [{"rule", "points", "evidence"}]}``. The scoring itself is ``engine.rewards.RepoReward``,
the same callable the RL trainers use, so an evaluation scores replies exactly as training did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import ConfigError, JudgeConfig, RewardSourcesConfig
from engine.jsonl import iter_jsonl
from engine.rundir import RowKey, write_rows


def reward_source(config: RewardSourcesConfig) -> Any:
    """``engine.rewards.RepoReward`` built from ``config`` (RM, judge, rules, n); rules-only when the
    config names neither an RM nor a judge."""
    from engine.rewards import RepoReward

    return RepoReward.from_config(config)


def served_model(base_url: str) -> str:
    """The first model an OpenAI-compatible server lists (``GET /models``): the judge's default."""
    import httpx

    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=30)
        response.raise_for_status()
        return response.json()["data"][0]["id"]
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"cannot list the judge's models at {base_url}: {exc}") from None


def _read_rows(path: Path) -> list[dict]:
    rows = []
    for number, row in iter_jsonl(path):
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
    judge_model: str | None = None,
    rubric: str | None = None,
    rm: str | None = None,
    n: float = 100.0,
) -> int:
    """Score every row of ``replies`` into ``out``; returns the number of rows."""
    rows = _read_rows(replies)
    config = RewardSourcesConfig(
        rm_path=rm,
        judge=JudgeConfig(base_url=judge_url, model=judge_model or served_model(judge_url), rubric=rubric)
        if judge_url
        else None,
        rules=rules,
        use_rules=not no_rules,
        n=n,
    )
    source = reward_source(config)
    scored = source.score(
        prompts=[r["prompt"] for r in rows], replies=[r["reply"] for r in rows], tasks=[r["task"] for r in rows]
    )
    write_rows(
        out,
        [
            {
                RowKey.ID: row[RowKey.ID],
                RowKey.R_MODEL: scored.r_model[i],
                RowKey.E_JUDGE: scored.e_judge[i],
                "e_func": scored.e_func[i],
                "r_total": scored.r_total[i],
                "violations": [_violation(v) for v in scored.violations[i]] if scored.violations else [],
            }
            for i, row in enumerate(rows)
        ],
    )
    return len(rows)


def _violation(violation: Any) -> dict:
    return {
        "rule": violation.rule,
        "points": violation.points,
        "evidence": violation.evidence,
        "span": list(violation.span),
    }
