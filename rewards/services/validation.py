"""Validate reward documents before they are saved: every problem becomes a message naming its rule.

The engine compiles rule sets (``RuleSet.from_dict`` / ``validate`` / ``run_examples``) and raises
``RuleSetError`` naming the rule; this module adds what only the web side knows or what would crash the
engine later instead of explaining itself now: example shapes (a missing reply, an unknown language, a
broken task or history), stage filters that name no SOP stage, and a reply that trips a checker bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.rewards.rubric import Rubric, RubricError
from engine.rewards.rules import EXAMPLE_TASKS, RuleSet, RuleSetError
from engine.task import message_errors, task_errors

NOT_AN_OBJECT = "The document must be a JSON object with a 'rules' list."
EXAMPLE_NOT_OBJECT = "rule {rule!r}: {kind} example #{n} must be an object with a 'reply' string"
EXAMPLE_BAD_LANGUAGE = "rule {rule!r}: {kind} example #{n} has language {language!r} (known: {known})"
EXAMPLE_BAD_TASK = "rule {rule!r}: {kind} example #{n} has a broken task: {errors}"
EXAMPLE_BAD_HISTORY = "rule {rule!r}: {kind} example #{n} has a broken history: {errors}"
EXAMPLE_FAILED = "rule {rule!r}: example {want} but {got}: {reply!r}"
EXAMPLES_CRASHED = "running the examples failed ({error}); check the rule parameters"
RUBRIC_RULE_SHAPE = "rubric rule #{n}: needs a string 'id', a 'description' and numeric 'points'"
RUBRIC_DUPLICATE = "rubric: duplicate rule id {rule!r}"
RUBRIC_UNKNOWN_STAGE = "rubric rule {rule!r}: stage filter {stage!r} names no SOP stage (known: {known})"
RUBRIC_STAGES_SHAPE = "rubric rule {rule!r}: the stage filter must be a list of stage keys"


def _example_errors(rule_id: str, kind: str, examples: Any) -> list[str]:
    errors = []
    for n, example in enumerate(examples or [], start=1):
        where = {"rule": rule_id, "kind": kind, "n": n}
        if not isinstance(example, dict) or not isinstance(example.get("reply"), str):
            errors.append(EXAMPLE_NOT_OBJECT.format(**where))
            continue
        language = example.get("language", "en")
        if "task" not in example and language not in EXAMPLE_TASKS:
            known = ", ".join(sorted(EXAMPLE_TASKS))
            errors.append(EXAMPLE_BAD_LANGUAGE.format(**where, language=language, known=known))
        if "task" in example and (problems := task_errors(example["task"])):
            errors.append(EXAMPLE_BAD_TASK.format(**where, errors="; ".join(problems)))
        history = example.get("history", [])
        problems = (
            ["must be a list of messages"]
            if not isinstance(history, list)
            else [f"#{i}: {e}" for i, m in enumerate(history) for e in message_errors(m)]
        )
        if problems:
            errors.append(EXAMPLE_BAD_HISTORY.format(**where, errors="; ".join(problems)))
    return errors


def rule_set_errors(document: Any, *, run_examples: bool = True) -> list[str]:
    """Every reason ``document`` cannot be saved as a rule set (empty = valid, examples all pass)."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        return [NOT_AN_OBJECT]
    try:
        rule_set = RuleSet.from_dict(document)
        rule_set.validate()
    except RuleSetError as exc:
        return [str(exc)]
    errors = []
    for rule in rule_set.rules:
        for kind in ("trigger", "clean"):
            errors += _example_errors(rule.id, kind, rule.examples.get(kind))
    if errors or not run_examples:
        return errors
    # A switched-off rule fires on nothing, so its must-trigger examples would block every save that
    # switches it off; they wait, unchecked, until it is switched back on.
    disabled = {rule.id for rule in rule_set.rules if not rule.enabled}
    try:
        failures = rule_set.run_examples()
    except Exception as exc:  # a checker bug on an odd example must read as a message, not a 500
        return [EXAMPLES_CRASHED.format(error=f"{type(exc).__name__}: {exc}")]
    return [
        EXAMPLE_FAILED.format(
            rule=f.rule,
            want="must trigger" if f.expected else "must not trigger",
            got=f"got {', '.join(f.got)}" if f.got else "no rule fired",
            reply=f.reply[:120],
        )
        for f in failures
        if f.rule not in disabled
    ]


def _engine_rubric_errors(document: dict[str, Any]) -> list[str]:
    """The engine's own rubric check (id format, non-zero points, its stage names)."""
    try:
        Rubric.from_dict(document)
    except RubricError as exc:
        return [str(exc)]
    return []


def rubric_errors(document: Any, *, stage_keys: Iterable[str]) -> list[str]:
    """Every reason ``document`` cannot be saved as a judge rubric; stage filters must name ``stage_keys``."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        return [NOT_AN_OBJECT]
    errors, seen = [], set()
    known = sorted(set(stage_keys))
    for n, rule in enumerate(document["rules"], start=1):
        points = rule.get("points") if isinstance(rule, dict) else None
        if (
            not isinstance(rule, dict)
            or not isinstance(rule.get("id"), str)
            or not rule["id"].strip()
            or not isinstance(rule.get("description"), str)
            or not isinstance(points, int | float)
            or isinstance(points, bool)
        ):
            errors.append(RUBRIC_RULE_SHAPE.format(n=n))
            continue
        if rule["id"] in seen:
            errors.append(RUBRIC_DUPLICATE.format(rule=rule["id"]))
        seen.add(rule["id"])
        stages = rule.get("stages") or []
        if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
            errors.append(RUBRIC_STAGES_SHAPE.format(rule=rule["id"]))
            continue
        for stage in stages:
            if stage not in known:
                errors.append(RUBRIC_UNKNOWN_STAGE.format(rule=rule["id"], stage=stage, known=", ".join(known)))
    if errors:
        return errors
    return _engine_rubric_errors(document)
