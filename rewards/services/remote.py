"""The playground's two remote reward sources, each bounded in time and never raising.

- **Judge (RJ):** the engine's judge (``RewardJudge``) against the config's OpenAI-compatible endpoint,
  one call with a short timeout and no retries: a person is waiting, and a judge that is down must read as
  "judge unavailable", not as a slow page or a 500.
- **RM:** through a deployment that serves the reward model (vLLM's ``/tokenize`` + ``/classify``) when one is
  healthy: the scorer is handed in by ``deploy.apps`` (:func:`set_served_rm_scorer`; deploy sits above
  rewards). Otherwise ``python -m engine score --rm DIR`` through the engine launcher (``kernel.launcher``)
  with a timeout. Scoring loads torch and a model; doing that inside a web worker would pin gigabytes per
  process and tie a request to a model load. The subprocess dies with its memory, and a missing adapter
  directory is a note, not a crash.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.rundir import RM_META_FILE, RowKey
from kernel.launcher import EngineError, EngineTimeout, engine_score
from registry.models import ModelVersion
from rewards.models import RewardConfig

logger = logging.getLogger(__name__)

JUDGE_TIMEOUT_S = 15.0

JUDGE_NOT_CONFIGURED = "No judge endpoint in this config."
JUDGE_NO_RUBRIC = "The config names a judge but no rubric."
JUDGE_UNAVAILABLE = "Judge unavailable: {reason}"
RM_NOT_CONFIGURED = "No reward model in this config."
RM_NO_ADAPTER = f"RM {{name!r}} has no trained RM directory ({RM_META_FILE}) at {{path!r}}; RM score skipped."
RM_UNAVAILABLE = "RM unavailable: {reason}"
RM_SERVED = "Scored by the served reward model (deployment, /classify)."

# (version, *, prompt, reply) -> centred score, or None when no deployment serves the version
_served_rm_scorer: Callable[..., float | None] | None = None


def set_served_rm_scorer(scorer: Callable[..., float | None] | None) -> None:
    global _served_rm_scorer
    _served_rm_scorer = scorer


@dataclass
class JudgeVerdict:
    rule: str
    broken: bool
    points: float
    evidence: str = ""
    description: str = ""  # the rubric rule's text: why a hit counts


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


# -- where a reward config's judge answers: the one function every caller asks ----------------------------
HITS_ONLY_TAG = "judge:hits-only"  # a registered judge trained on the hits-only verdict (the demo judge)


@dataclass(frozen=True)
class JudgeEndpoint:
    base_url: str  # OpenAI-compatible, ending in /v1
    model: str  # the served name to send
    evidence_chars: int | None = None  # None: the engine's default; 0: ask for the hits alone


# A registered model version -> (base_url, served name) where it answers now, or None. The deploy app (a
# layer above this one) installs its ``live_endpoint`` here when it starts (``deploy.apps``).
_live_endpoint: Callable[[ModelVersion], tuple[str, str] | None] | None = None


def live_endpoint_install(resolver: Callable[[ModelVersion], tuple[str, str] | None] | None) -> None:
    global _live_endpoint
    _live_endpoint = resolver


def judge_endpoint(config: RewardConfig | None) -> JudgeEndpoint | None:
    """Where ``config``'s judge answers now, or None when it names no judge.

    A judge whose model name is a registered version served by a healthy deployment (the demo judge: an
    adapter of the demo deployment, ``deploy.services.demo``) answers where that deployment is now, so a
    restarted server on a new port is still found; any other judge is the config's URL and model as typed.
    The playground, the jobs' engine config, evaluation runs and the deploy playground all ask here."""
    if config is None or not config.judge_base_url:
        return None
    version = ModelVersion.objects.filter(name=config.judge_model).first() if config.judge_model else None
    evidence = 0 if version is not None and HITS_ONLY_TAG in (version.tags or []) else None
    live = _live_endpoint(version) if version is not None and _live_endpoint is not None else None
    if live is not None:
        return JudgeEndpoint(base_url=live[0], model=live[1], evidence_chars=evidence)
    return JudgeEndpoint(base_url=config.judge_base_url, model=config.judge_model, evidence_chars=evidence)


def _judge(config: RewardConfig, **overrides: Any):
    from engine.rewards.judge import RewardJudge

    endpoint = judge_endpoint(config)
    options = dict(concurrency=1, timeout=JUDGE_TIMEOUT_S, retries=0)
    if endpoint.evidence_chars is not None:
        options["evidence_chars"] = endpoint.evidence_chars
    return RewardJudge(
        base_url=endpoint.base_url,
        model=endpoint.model or "judge",
        rubric=config.rubric.document,
        **{**options, **overrides},
    )


def judge_score(
    *,
    config: RewardConfig | None,
    reply: str,
    task: dict[str, Any],
    history: Sequence[dict[str, Any]],
    stage: str | None = None,
) -> JudgeResult:
    """The judge's verdicts on ``reply`` (E_judge = 0 and a note when there is no judge or it fails)."""
    if config is None or not config.judge_base_url:
        return JudgeResult(available=False, note=JUDGE_NOT_CONFIGURED)
    if config.rubric is None:
        return JudgeResult(available=False, note=JUDGE_NO_RUBRIC)
    try:
        from engine.rewards.judge import FAIL_TOO_LONG, JudgeItem

        item = JudgeItem(task=task, history=list(history), reply=reply, stage=stage or None)
        judge = _judge(config)
        verdict = judge.judge_batch([item])[0]
        if not verdict.ok and verdict.kind == FAIL_TOO_LONG:
            # A small judge's context cannot hold evidence strings beside this prompt: ask for the hits alone.
            judge = _judge(config, evidence_chars=0)
            verdict = judge.judge_batch([item])[0]
    except Exception as exc:  # a rubric the engine refuses, a client that cannot start: still a page
        verdict = None
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = verdict.error or "failed"
    if verdict is None or not verdict.ok:
        logger.warning("playground judge call failed: %s", reason)
        return JudgeResult(available=False, note=JUDGE_UNAVAILABLE.format(reason=reason[:300]))
    verdicts = [
        JudgeVerdict(
            rule=rule.id,
            broken=rule.id in verdict.hits,
            points=rule.points if rule.id in verdict.hits else 0.0,
            evidence=verdict.evidence.get(rule.id, ""),
            description=rule.description,
        )
        for rule in judge.rubric.rules_for(item.stage)
    ]
    return JudgeResult(available=True, e_judge=float(verdict.e_judge), verdicts=verdicts)


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
    rm_dir = rm_run_dir(model)
    if rm_dir is None:
        return RMResult(available=False, note=RM_NO_ADAPTER.format(name=model.name, path=model.adapter_path))
    from engine.prompting import to_chat

    prompt = to_chat(list(history), case=task, sop=sop)
    if _served_rm_scorer is not None:
        try:
            served = _served_rm_scorer(model, prompt=prompt, reply=reply)
        except Exception as exc:  # the served RM failed: the subprocess below still answers
            logger.warning("served RM scoring failed, falling back to the engine: %s", exc)
            served = None
        if served is not None:
            return RMResult(available=True, score=float(served), note=RM_SERVED)
    row = {"id": "playground", "prompt": prompt, "task": task, "reply": reply}
    try:
        score = _run_engine_score(row=row, rm_dir=rm_dir)
    except Exception as exc:  # timeout, a crash in the engine, unreadable output
        reason = "timed out" if isinstance(exc, EngineTimeout) else _reason(exc)
        logger.warning("playground RM scoring failed: %s", reason)
        return RMResult(available=False, note=RM_UNAVAILABLE.format(reason=reason[-300:]))
    return RMResult(available=True, score=score)


def rm_run_dir(model: ModelVersion) -> Path | None:
    """The trained RM run directory (``rm_meta.json`` + ``adapter/``): the job's run dir from the
    lineage, else the adapter path or its parent (ingest records ``run_dir/adapter``)."""
    candidates = [model.lineage.get("run_dir") if isinstance(model.lineage, dict) else None, model.adapter_path]
    if model.adapter_path:
        candidates.append(str(Path(model.adapter_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / RM_META_FILE).is_file():
            return Path(candidate)
    return None


def _run_engine_score(*, row: dict[str, Any], rm_dir: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="playground-rm-") as tmp:
        scored = engine_score(
            rows=[row], run_dir=Path(tmp), rm=str(rm_dir), timeout_s=settings.PARLEY_RM_SCORE_TIMEOUT_S
        )
    return float(scored[row[RowKey.ID]][RowKey.R_MODEL])


def _reason(exc: Exception) -> str:
    """The engine's last log line (its one-line error) rather than the whole tail."""
    if isinstance(exc, EngineError):
        lines = str(exc).strip().splitlines()
        return lines[-1] if lines else str(exc)
    return f"{type(exc).__name__}: {exc}"
