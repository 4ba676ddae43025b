"""The reward playground: one reply, every reward source, side by side.

For a reply in its context (the case and the dialogue so far) it gives each rule's verdict with the
evidence span, the judge's verdicts (when a reward config names a judge endpoint), the RM score (when
the config names an RM with an adapter), and R_total by the engine's ``enhanced_reward``. A source that
is absent or fails becomes a note on the page, never an exception: the playground is where people go
when something is off, so it must keep working when the judge or the RM is down.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.rewards.enhancement import enhanced_reward, training_reward
from engine.rewards.rules import RuleSet, RuleSetError
from rewards.models import RewardConfig
from rewards.services.remote import JudgeResult, RMResult, judge_score, rm_score

RULES_BROKEN = "The rule set does not compile: {error}"


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    description: str
    points: float
    fired: bool
    evidence: str = ""
    span: tuple[int, int] | None = None
    spans: tuple[tuple[int, int], ...] = ()  # every evidence span (the first is ``span``)
    pieces: tuple[tuple[str, int, int], ...] = ()  # ``(text, start, end)`` per span, for the page


@dataclass(frozen=True)
class Segment:
    """A piece of the reply; ``rules`` is non-empty when it lies inside some rule's evidence span."""

    text: str
    rules: tuple[str, ...] = ()


@dataclass
class PlaygroundResult:
    reply: str
    rules: list[RuleVerdict]
    segments: list[Segment]
    e_func: float
    judge: JudgeResult
    rm: RMResult
    r_model: float
    r_model_assumed: bool
    e_enh: float
    r_total: float
    n: float
    notes: list[str] = field(default_factory=list)

    @property
    def fired(self) -> list[RuleVerdict]:
        return [v for v in self.rules if v.fired]


def highlight_segments(reply: str, spans: Sequence[tuple[str, tuple[int, int]]]) -> list[Segment]:
    """Cut ``reply`` at every span edge; each piece knows which rules' spans cover it (overlaps allowed).

    The template escapes each piece and wraps the covered ones in ``<mark>``, so no reply text is ever
    marked safe.

    >>> [(s.text, s.rules) for s in highlight_segments("abcdef", [("r1", (1, 3)), ("r2", (2, 5))])]
    [('a', ()), ('b', ('r1',)), ('c', ('r1', 'r2')), ('de', ('r2',)), ('f', ())]
    """
    cuts = {0, len(reply)}
    for _, (start, end) in spans:
        cuts.update((max(0, min(start, len(reply))), max(0, min(end, len(reply)))))
    edges = sorted(cuts)
    segments = []
    for start, end in zip(edges, edges[1:], strict=False):
        if start == end:
            continue
        covering = tuple(dict.fromkeys(rule for rule, (s, e) in spans if s <= start and end <= e))
        segments.append(Segment(reply[start:end], covering))
    return segments


_COMPILED: OrderedDict[str, RuleSet] = OrderedDict()
_COMPILED_MAX = 16
_COMPILED_LOCK = threading.Lock()  # threaded web servers share the cache


def _rule_set(document: dict[str, Any]) -> RuleSet:
    """The compiled rule set of a stored document, cached by content: compiling takes ~25 ms (the
    engine's cue tries) and a saved version never changes, so the playground compiles each once."""
    key = hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with _COMPILED_LOCK:
        rule_set = _COMPILED.get(key)
        if rule_set is not None:
            _COMPILED.move_to_end(key)
            return rule_set
    rule_set = RuleSet.from_dict(document)
    rule_set.compiled()
    with _COMPILED_LOCK:
        _COMPILED[key] = rule_set
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return rule_set


def rule_verdicts(
    *, reply: str, task: dict[str, Any], history: Sequence[dict[str, Any]], document: dict[str, Any]
) -> list[RuleVerdict]:
    """Every enabled rule of ``document`` with whether it fired on ``reply`` and where."""
    rule_set = _rule_set(document)
    compiled = rule_set.compiled()
    hits = {v.rule: v for v in compiled.check(reply, task=task, history=history)}
    every = compiled.evidence_spans(reply, task=task, history=history) if hits else {}
    verdicts = []
    for spec in rule_set.rules:
        if not spec.enabled:
            continue
        hit = hits.get(spec.id)
        spans = tuple(every.get(spec.id) or [tuple(hit.span)]) if hit else ()
        verdicts.append(
            RuleVerdict(
                rule=spec.id,
                description=spec.description,
                points=hit.points if hit else spec.points,
                fired=hit is not None,
                evidence=hit.evidence if hit else "",
                span=tuple(hit.span) if hit else None,
                spans=spans,
                pieces=tuple((reply[s:e], s, e) for s, e in spans),
            )
        )
    return verdicts


def _enhance(*, r_model: float, e_judge: float, e_func: float, n: float) -> tuple[float, float]:
    """E_enh (shown on the page) and R_total by the engine's own ``enhanced_reward`` (torch-free)."""
    e_enh = min(max(e_judge + e_func, -n), n)
    return e_enh, enhanced_reward(r_model, e_judge, e_func, n)


def playground_evaluate(
    *,
    reply: str,
    task: dict[str, Any],
    history: Sequence[dict[str, Any]],
    rule_document: dict[str, Any],
    config: RewardConfig | None = None,
    assumed_r_model: float = 1.0,
    sop: dict[str, Any] | None = None,
    stage: str | None = None,
) -> PlaygroundResult:
    """Score ``reply`` with the rules, and with the config's judge and RM where it has them."""
    notes: list[str] = []
    try:
        verdicts = rule_verdicts(reply=reply, task=task, history=history, document=rule_document)
    except RuleSetError as exc:  # a stored version predating a stricter engine: say so, score nothing
        verdicts, notes = [], [RULES_BROKEN.format(error=exc)]
    e_func = float(sum(v.points for v in verdicts if v.fired))
    judge = judge_score(config=config, reply=reply, task=task, history=history, stage=stage)
    rm = rm_score(config=config, reply=reply, task=task, history=history, sop=sop)
    r_model_assumed = rm.score is None
    r_model = assumed_r_model if r_model_assumed else rm.score
    n = config.n if config is not None else 100.0
    e_enh, _ = _enhance(r_model=r_model, e_judge=judge.e_judge, e_func=e_func, n=n)
    # exactly the number a REPO job is rewarded with (one function for every trainer)
    r_total = training_reward(
        r_model=None if r_model_assumed else rm.score, e_judge=judge.e_judge, e_func=e_func, n=n,
        r_model_without_rm=assumed_r_model,
    )  # fmt: skip
    spans = [(v.rule, span) for v in verdicts if v.fired for span in (v.spans or ([v.span] if v.span else []))]
    return PlaygroundResult(
        reply=reply,
        rules=verdicts,
        segments=highlight_segments(reply, spans),
        e_func=e_func,
        judge=judge,
        rm=rm,
        r_model=r_model,
        r_model_assumed=r_model_assumed,
        e_enh=e_enh,
        r_total=r_total,
        n=n,
        notes=notes,
    )
