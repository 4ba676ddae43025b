"""One click: a bad case or an excellent response becomes a rule example in a new rule-set version.

A bad case's model reply becomes a must-trigger example of the rule matching its category; an excellent
reply becomes a must-not-trigger example of every enabled rule. Each example carries the real case and
the dialogue so far, so price rules judge it against the right numbers. The new version is saved through
:func:`rule_set_version_create`, so the examples run first: a rule that does not yet catch the bad reply
(or that fires on the excellent one) blocks the save and says so; the fix is to edit that rule.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from annotation.models import BadCase, Dialogue, ExcellentTurn
from rewards.models import RuleSetVersion
from rewards.selectors import DEFAULT_NAME, document_version_get
from rewards.services.versions import RewardDocumentError, rule_set_version_create

# Bad-case categories (annotation.models.BadCase.Category) → the rule that should catch them. Categories
# a regex cannot see (silence taken as agreement, a ticket ignored, wrong stage, rigid script) are the
# judge rubric's; for those the caller names a rule explicitly.
CATEGORY_RULES = {
    "internal_term_leak": "internal_term_leak",
    "price_confusion": "price_mismatch",
    "hallucination": "price_mismatch",
    "pushed_after_acceptable_offer": "continued_after_acceptable_offer",
    "over_promise": "forbidden_word",
    "tone": "forbidden_word",
    "repeated_confirmation": "repetition",
    "mixed_language": "mixed_language",
    "too_long": "too_long",
    "reasoning_leak": "reasoning_leak",
}

NO_RULE_FOR_CATEGORY = (
    "No rule matches bad-case category {category!r} (it is the judge rubric's to catch); pick a rule explicitly."
)
UNKNOWN_RULE = "Rule set {name!r} v{version} has no rule {rule!r}."
ALREADY_EXAMPLE = "That reply is already a {kind} example of {rule!r} in {name!r} v{version}."
EMPTY_REPLY = "The {what} has no reply text to use as an example."
EXCELLENT_NOT_AGENT = "Turn {turn} of {dialogue} is not an agent message, so it cannot be an excellent reply."


def _example(*, dialogue: Dialogue, turn: int, reply: str, source: str) -> dict[str, Any]:
    history = [
        {"role": m.role, "content": m.content} for m in dialogue.messages.filter(index__lt=turn).order_by("index")
    ]
    task = dialogue.case.to_task()
    return {"reply": reply, "language": task["language"], "task": task, "history": history, "source": source}


def _has_example(examples: list[dict[str, Any]], example: dict[str, Any]) -> bool:
    """The same reply in the same context (a reply alone may rightly appear again in another case)."""

    def key(e: dict[str, Any]) -> tuple:
        return e.get("reply"), e.get("task"), e.get("history") or []

    return any(isinstance(e, dict) and key(e) == key(example) for e in examples)


@dataclass(frozen=True)
class Draft:
    """The document a one-click example would have saved, for the editor to start from."""

    document: dict[str, Any]
    note: str
    base_version: int


class ExampleRefused(RewardDocumentError):
    """The new example made the save fail (the rule misses it, or another rule fires); ``draft`` holds the
    document with the example in place, so the person can fix the rule in the editor and save both."""

    def __init__(self, messages: list[str], *, draft: Draft):
        super().__init__(messages)
        self.draft = draft


def _save_or_refuse(*, name: str, document: dict[str, Any], note: str, user, base_version: int) -> RuleSetVersion:
    try:
        return rule_set_version_create(name=name, document=document, note=note, user=user, base_version=base_version)
    except RewardDocumentError as exc:
        raise ExampleRefused(exc.messages, draft=Draft(document, note, base_version)) from None


def rule_example_from_bad_case(
    *, bad_case: BadCase, user, rule_id: str | None = None, name: str = DEFAULT_NAME
) -> RuleSetVersion:
    """A new version of rule set ``name`` where ``bad_case``'s reply must trigger its category's rule."""
    rule_id = rule_id or CATEGORY_RULES.get(bad_case.category)
    if rule_id is None:
        raise RewardDocumentError([NO_RULE_FOR_CATEGORY.format(category=bad_case.category)])
    if not bad_case.model_reply.strip():
        raise RewardDocumentError([EMPTY_REPLY.format(what="bad case")])
    base = document_version_get(model=RuleSetVersion, name=name)
    document = copy.deepcopy(base.document)
    rule = next((r for r in document["rules"] if r.get("id") == rule_id), None)
    if rule is None:
        raise RewardDocumentError([UNKNOWN_RULE.format(name=name, version=base.version, rule=rule_id)])
    examples = rule.setdefault("examples", {}).setdefault("trigger", [])
    example = _example(
        dialogue=bad_case.dialogue, turn=bad_case.turn, reply=bad_case.model_reply, source=f"bad_case:{bad_case.pk}"
    )
    if _has_example(examples, example):
        raise RewardDocumentError(
            [ALREADY_EXAMPLE.format(kind="must-trigger", rule=rule_id, name=name, version=base.version)]
        )
    examples.append(example)
    note = f"Bad case #{bad_case.pk} ({bad_case.category}) must trigger {rule_id}."
    return _save_or_refuse(name=name, document=document, note=note, user=user, base_version=base.version)


def rule_example_from_excellent_turn(*, excellent: ExcellentTurn, user, name: str = DEFAULT_NAME) -> RuleSetVersion:
    """A new version of rule set ``name`` where the excellent reply must trigger none of its enabled rules."""
    dialogue = excellent.dialogue
    message = dialogue.messages.filter(index=excellent.turn).first()
    if message is None or message.role != "agent":
        raise RewardDocumentError([EXCELLENT_NOT_AGENT.format(turn=excellent.turn, dialogue=dialogue.external_id)])
    if not message.content.strip():
        raise RewardDocumentError([EMPTY_REPLY.format(what="excellent turn")])
    base = document_version_get(model=RuleSetVersion, name=name)
    document = copy.deepcopy(base.document)
    example = _example(
        dialogue=dialogue, turn=excellent.turn, reply=message.content, source=f"excellent:{excellent.pk}"
    )
    added = 0
    for rule in document["rules"]:
        if not rule.get("enabled", True):
            continue
        clean = rule.setdefault("examples", {}).setdefault("clean", [])
        if not _has_example(clean, example):
            clean.append(copy.deepcopy(example))
            added += 1
    if not added:
        raise RewardDocumentError(
            [ALREADY_EXAMPLE.format(kind="must-not-trigger", rule="every rule", name=name, version=base.version)]
        )
    note = f"Excellent reply {dialogue.external_id}#{excellent.turn} must trigger no rule."
    return _save_or_refuse(name=name, document=document, note=note, user=user, base_version=base.version)
