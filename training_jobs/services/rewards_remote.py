"""The playground's two remote reward sources, each bounded in time and never raising.

- **Judge (RJ):** the engine's async judge client against the config's OpenAI-compatible endpoint,
  with a short timeout and no retries: a person is waiting, and a judge that is down must read as
  "judge unavailable", not as a slow page or a 500.
- **RM:** ``python -m engine score --rm DIR`` in a subprocess with a timeout. Scoring loads torch and a
  model; doing that inside a web worker would pin gigabytes per process and tie a request to a model
  load. The subprocess dies with its memory, and a missing adapter directory is a note, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from training_jobs.models import RewardConfig

logger = logging.getLogger(__name__)

JUDGE_TIMEOUT_S = 20.0
RM_TIMEOUT_S = 120.0

JUDGE_NOT_CONFIGURED = "No judge endpoint in this config."
JUDGE_NO_RUBRIC = "The config names a judge but no rubric."
JUDGE_UNAVAILABLE = "Judge unavailable: {reason}"
RM_NOT_CONFIGURED = "No reward model in this config."
RM_NO_ADAPTER = "RM {name!r} has no adapter directory at {path!r}; RM score skipped."
RM_UNAVAILABLE = "RM unavailable: {reason}"


@dataclass
class JudgeVerdict:
    rule: str
    broken: bool
    points: float
    evidence: str = ""


@dataclass
class JudgeResult:
    available: bool
    e_judge: float = 0.0
    verdicts: list[JudgeVerdict] = field(default_factory=list)
    note: str = ""


@dataclass
class RMResult:
    available: bool
    score: float | None = None
    note: str = ""


def judge_score(
    *, config: RewardConfig | None, reply: str, task: dict[str, Any], history: Sequence[dict[str, Any]]
) -> JudgeResult:
    """The judge's verdicts on ``reply`` (E_judge = 0 and a note when there is no judge or it fails)."""
    if config is None or not config.judge_base_url:
        return JudgeResult(available=False, note=JUDGE_NOT_CONFIGURED)
    if config.rubric is None:
        return JudgeResult(available=False, note=JUDGE_NO_RUBRIC)
    try:
        return asyncio.run(
            asyncio.wait_for(_judge_call(config=config, reply=reply, task=task, history=history), JUDGE_TIMEOUT_S)
        )
    except Exception as exc:  # a down, slow or misbehaving endpoint: the page still renders
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        logger.warning("playground judge call failed: %s", reason)
        return JudgeResult(available=False, note=JUDGE_UNAVAILABLE.format(reason=reason[:300]))


async def _judge_call(
    *, config: RewardConfig, reply: str, task: dict[str, Any], history: Sequence[dict[str, Any]]
) -> JudgeResult:
    from engine.rewards.judge import JudgeClient, Rubric

    rubric = Rubric.from_dict(config.rubric.document)
    client = JudgeClient(
        base_url=config.judge_base_url,
        model=config.judge_model or "judge",
        rubric=rubric,
        timeout=JUDGE_TIMEOUT_S,
        max_retries=0,
        concurrency=1,
    )
    try:
        result = await client.judge(task=task, history=list(history), reply=reply)
    finally:
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()
    if getattr(result, "failed", False):
        return JudgeResult(available=False, note=JUDGE_UNAVAILABLE.format(reason=getattr(result, "error", "failed")))
    verdicts = [
        JudgeVerdict(rule=v.rule, broken=v.broken, points=v.points if v.broken else 0.0, evidence=v.evidence or "")
        for v in result.verdicts
    ]
    return JudgeResult(available=True, e_judge=float(result.points), verdicts=verdicts)


def rm_score(
    *,
    config: RewardConfig | None,
    reply: str,
    task: dict[str, Any],
    history: Sequence[dict[str, Any]],
    sop: dict[str, Any] | None = None,
) -> RMResult:
    """The config's reward model's (centred) score of ``reply``, computed in a subprocess."""
    model = config.reward_model if config is not None else None
    if model is None:
        return RMResult(available=False, note=RM_NOT_CONFIGURED)
    adapter = Path(model.adapter_path) if model.adapter_path else None
    if adapter is None or not adapter.is_dir():
        return RMResult(available=False, note=RM_NO_ADAPTER.format(name=model.name, path=model.adapter_path))
    from engine.prompting import to_chat

    row = {"id": "playground", "prompt": to_chat(list(history), case=task, sop=sop), "task": task, "reply": reply}
    try:
        score = _run_engine_score(row=row, rm_dir=adapter)
    except Exception as exc:  # timeout, a crash in the engine, unreadable output
        reason = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else f"{type(exc).__name__}: {exc}"
        logger.warning("playground RM scoring failed: %s", reason)
        return RMResult(available=False, note=RM_UNAVAILABLE.format(reason=reason[-300:]))
    return RMResult(available=True, score=score)


def _run_engine_score(*, row: dict[str, Any], rm_dir: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="playground-rm-") as tmp:
        replies, out = Path(tmp) / "replies.jsonl", Path(tmp) / "scored.jsonl"
        replies.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "engine",
            "score",
            "--replies",
            str(replies),
            "--out",
            str(out),
            "--no-rules",
            "--rm",
            str(rm_dir),
        ]
        done = subprocess.run(
            cmd,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=RM_TIMEOUT_S,
            env=_subprocess_env(),
        )
        if done.returncode != 0:
            raise RuntimeError((done.stderr or done.stdout).strip().splitlines()[-1:] or ["engine score failed"])
        scored = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    return float(scored["r_model"])


def _subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # a playground score must not take every core from the web
    return env
