"""The rule-set document: plain JSON the web app stores, edits, diffs and validates.

A document is ``{"version": ..., "rules": [{"id", "kind", "enabled", "points", "params", "examples"}]}``.
``kind`` names the checker (the ten built-in kinds share their rule's id; ``"pattern"`` is a generic
regex/word-list rule a team adds when a new failure shows up in production). ``examples`` holds replies
that must and must not trigger the rule, run on save by :meth:`RuleSet.run_examples`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class RuleSetError(ValueError):
    """A rule set that cannot be compiled; the message names the rule (and the pattern) at fault."""

    def __init__(self, message: str, *, rule: str | None = None):
        super().__init__(message)
        self.rule = rule


class Violation(NamedTuple):
    """One broken rule in one reply. ``points`` is negative; ``span`` indexes the reply."""

    rule: str
    points: float
    span: tuple[int, int]
    evidence: str


@dataclass(frozen=True)
class ExampleFailure:
    """A rule example that did not behave: it should (``expected``) or should not trigger."""

    rule: str
    reply: str
    expected: bool
    got: list[str]

    def __str__(self) -> str:
        want = "must trigger" if self.expected else "must not trigger"
        return f"{self.rule}: example {want} but got {self.got or 'no violation'}: {self.reply[:80]!r}"


@dataclass
class RuleSpec:
    """One rule: its id, checker kind, points (negative = deduction), parameters and examples."""

    id: str
    points: float
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # "" = the id itself (built-in rules)
    enabled: bool = True
    description: str = ""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"trigger": [], "clean": []})

    @property
    def checker_kind(self) -> str:
        return self.kind or self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.checker_kind,
            "enabled": self.enabled,
            "points": self.points,
            "description": self.description,
            "params": copy.deepcopy(self.params),
            "examples": copy.deepcopy(self.examples),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleSpec:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise RuleSetError("every rule needs a string 'id'")
        rule_id = data["id"]
        points = data.get("points")
        if not isinstance(points, int | float) or isinstance(points, bool):
            raise RuleSetError(f"rule {rule_id!r}: 'points' must be a number", rule=rule_id)
        examples = data.get("examples") or {}
        if not isinstance(examples, dict) or not all(
            isinstance(examples.get(k, []), list) for k in ("trigger", "clean")
        ):
            raise RuleSetError(f"rule {rule_id!r}: 'examples' must be {{trigger: [...], clean: [...]}}", rule=rule_id)
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise RuleSetError(f"rule {rule_id!r}: 'params' must be an object", rule=rule_id)
        kind = data.get("kind") or ""
        return cls(
            id=rule_id,
            points=float(points),
            params=copy.deepcopy(params),
            kind="" if kind == rule_id else kind,
            enabled=bool(data.get("enabled", True)),
            description=str(data.get("description", "")),
            examples={k: copy.deepcopy(examples.get(k, [])) for k in ("trigger", "clean")},
        )


@dataclass
class RuleSet:
    """A versioned, JSON-serialisable list of rules; :meth:`compiled` turns it into checkers (cached)."""

    version: str
    rules: list[RuleSpec]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleSet:
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise RuleSetError("a rule set is an object with 'version' and a 'rules' list")
        version = data.get("version")
        if not isinstance(version, str | int) or isinstance(version, bool) or str(version) == "":
            raise RuleSetError("a rule set needs a 'version' (string or number)")
        rules = [RuleSpec.from_dict(r) for r in data["rules"]]
        ids = [r.id for r in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise RuleSetError(f"duplicate rule ids: {', '.join(duplicates)}", rule=duplicates[0])
        return cls(version=str(version), rules=rules)

    def get(self, rule_id: str) -> RuleSpec:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def validate(self) -> None:
        """Compile every rule; raise :class:`RuleSetError` naming the rule (and pattern) that fails."""
        self.compiled(refresh=True)

    def compiled(self, *, refresh: bool = False):  # -> CompiledRuleSet (import cycle)
        from engine.rewards.rules.engine import CompiledRuleSet

        cached = self.__dict__.get("_compiled")
        if cached is None or refresh:
            cached = CompiledRuleSet(self)
            self.__dict__["_compiled"] = cached
        return cached

    def run_examples(self) -> list[ExampleFailure]:
        """Run each rule's examples through the whole set; a failure is a missed or a false trigger.

        An example is ``{"reply": str, "history": [...]?, "task": {...}?, "language": "en"|"zh"?}``; the
        task defaults to the example case of its language (:data:`~.defaults.EXAMPLE_TASKS`).
        """
        from engine.rewards.rules.defaults import EXAMPLE_TASKS

        compiled = self.compiled(refresh=True)
        failures = []
        for rule in self.rules:
            for expected, key in ((True, "trigger"), (False, "clean")):
                for example in rule.examples.get(key, []):
                    task = example.get("task") or EXAMPLE_TASKS[example.get("language", "en")]
                    hits = compiled.check(example["reply"], task=task, history=example.get("history", ()))
                    got = sorted({v.rule for v in hits})
                    if (rule.id in got) != expected:
                        failures.append(ExampleFailure(rule.id, example["reply"], expected, got))
        return failures
