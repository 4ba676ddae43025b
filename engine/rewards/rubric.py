"""The judge's rubric: an editable, versioned list of deduction (and bonus) rules, and the prompt and
JSON schema built from it.

docs/method.md: "an LLM judge scoring against an editable rubric of deduction rules: appeasement / emotional
value, continuing the chase appropriately, over-promising, repeated confirmation, taking no-response
as agreement, SOP-stage compliance. When a new failure shows up in production, the team adds a rule to
the rubric and keeps training - no relabelling." A rule with positive points is a bonus.

A rule's ``stages`` limits it to those SOP stages (empty = every stage); rules outside the current stage
are left out of the prompt and the schema, so the judge is never asked about them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine.vocab import SOP_STAGES

RULE_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
EVIDENCE_MAX_CHARS = 80  # bounded strings keep a weak judge from filling the token budget


class RubricError(ValueError):
    """A rubric that cannot be used; the message names the rule at fault."""


@dataclass(frozen=True)
class RubricRule:
    id: str
    description: str  # what the judge checks, phrased so that "hit" = the described thing happened
    points: float  # negative = deduction, positive = bonus
    stages: tuple[str, ...] = ()  # empty = all stages

    def applies(self, stage: str | None) -> bool:
        return not self.stages or stage is None or stage in self.stages


@dataclass
class Rubric:
    version: str
    rules: list[RubricRule] = field(default_factory=list)

    # -- the document -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rules": [
                {"id": r.id, "description": r.description, "points": r.points, "stages": list(r.stages)}
                for r in self.rules
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rubric:
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise RubricError("a rubric is an object with 'version' and a 'rules' list")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, str | int) or str(version) == "":
            raise RubricError("a rubric needs a 'version' (string or number)")
        rubric = cls(version=str(version), rules=[_rule_from_dict(r) for r in data["rules"]])
        rubric.validate()
        return rubric

    def validate(self) -> None:
        """Raise :class:`RubricError` for duplicate ids or an empty rubric (the web form shows it)."""
        if not self.rules:
            raise RubricError("a rubric needs at least one rule")
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise RubricError(f"duplicate rule ids: {', '.join(duplicates)}")

    # -- what the judge sees -------------------------------------------------------------------------
    def rules_for(self, stage: str | None) -> list[RubricRule]:
        return [r for r in self.rules if r.applies(stage)]

    def schema(self, stage: str | None, *, evidence_chars: int = EVIDENCE_MAX_CHARS) -> dict[str, Any]:
        """The structured-output schema: one required verdict per applicable rule, nothing else.

        Rule ids are the only property names allowed (``additionalProperties: false`` at each level),
        and a verdict is ``{"hit": false}`` or ``{"hit": true, "evidence": "..."}`` with a bounded
        string: the judge decides first and quotes only what it found, so a clean reply costs a few
        tokens per rule and even a weak model's output parses. ``evidence_chars=0`` asks for the hits
        alone, ``{"hit": true|false}``: what a training run needs, in the fewest tokens.
        """
        if evidence_chars == 0:
            verdict = _closed_object({"hit": {"type": "boolean"}})
        else:
            evidence = {"type": "string", "maxLength": evidence_chars}
            clean, hit = (
                _closed_object({"hit": {"enum": [False]}}),
                _closed_object({"hit": {"enum": [True]}, "evidence": evidence}),
            )
            verdict = {"anyOf": [clean, hit]}
        return _closed_object(dict.fromkeys((r.id for r in self.rules_for(stage)), verdict))

    def e_judge(self, hits: list[str]) -> float:
        """E_judge: the sum of the points of the rules found broken (deductions) or met (bonuses)."""
        points = {r.id: r.points for r in self.rules}
        return float(sum(points[h] for h in hits))

    def fingerprint(self) -> str:
        """A hash of the whole document: part of the judge's cache key with the version."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _closed_object(properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema object with exactly these properties, all required, in this order."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _rule_from_dict(data: Any) -> RubricRule:
    if not isinstance(data, dict):
        raise RubricError("every rubric rule is an object")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        raise RubricError(f"rule id {rule_id!r}: use lower-case letters, digits and '_' (2-64 chars)")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise RubricError(f"rule {rule_id!r}: 'description' is required")
    points = data.get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or points == 0:
        raise RubricError(f"rule {rule_id!r}: 'points' must be a non-zero number (negative = deduction)")
    stages = data.get("stages") or []
    unknown = [s for s in stages if s not in SOP_STAGES] if isinstance(stages, list) else ["(not a list)"]
    if unknown:
        raise RubricError(f"rule {rule_id!r}: unknown stages {unknown} (use {', '.join(SOP_STAGES)})")
    return RubricRule(rule_id, description.strip(), float(points), tuple(stages))


_DEFAULT = {
    "version": "1",
    "rules": [
        {
            "id": "no_emotional_value",
            "points": -10,
            "stages": ["persuade", "handle_objection", "continue_chase"],
            "description": "The hotel voiced a concern, complaint or feeling (costs, being busy, annoyance) and the "
            "reply ignores it: no acknowledgement, empathy or appeasement before asking again.",
        },
        {
            "id": "chase_inappropriate",
            "points": -15,
            "stages": ["handle_objection", "continue_chase"],
            "description": "The reply gives up although the hotel's offer is still above the suggested price and it "
            "has not firmly refused, or keeps pressing after a firm refusal; a good chase makes one "
            "calibrated counter (meet halfway, a date range, one room first).",
        },
        {
            "id": "over_promise",
            "points": -20,
            "stages": [],
            "description": "The reply promises what the case does not allow: guaranteed bookings, ranking or "
            "traffic, or any benefit not in the case's allowed benefits; or it invents facts.",
        },
        {
            "id": "repeated_confirmation",
            "points": -10,
            "stages": ["continue_chase", "accept_close"],
            "description": "The reply asks the hotel to confirm again something it already agreed or confirmed "
            "earlier in the dialogue.",
        },
        {
            "id": "silence_as_agreement",
            "points": -25,
            "stages": [],
            "description": "The reply treats no reply, silence or a vague non-answer from the hotel as agreement "
            "(e.g. thanks the hotel for agreeing or says the price will go live).",
        },
        {
            "id": "sop_stage_violation",
            "points": -15,
            "stages": [],
            "description": "The reply does not fit the current SOP stage: a price before the greeting, closing "
            "before the hotel agreed, skipping a ticket of the case, or not answering what the "
            "hotel just said.",
        },
        {
            "id": "excellent_persuasion",
            "points": 10,
            "stages": ["persuade", "handle_objection", "continue_chase"],
            "description": "Bonus: the reply acknowledges the hotel's point in its own terms, gives one concrete and "
            "true reason from the case (a competitor's figure, the conversion effect, an allowed "
            "benefit) and asks for a specific price for a specific room, in two to four sentences.",
        },
    ],
}


def default_rubric() -> Rubric:
    """The paper's rubric items (docs/method.md, "Three reward sources"), seeded as version 1."""
    return Rubric.from_dict(copy.deepcopy(_DEFAULT))
