"""Rule functions (RF): deterministic checks of a reply against the task and the dialogue: E_func.

>>> from engine.rewards.rules.defaults import EXAMPLE_TASKS
>>> [v.rule for v in check("Our target price is 690.", task=EXAMPLE_TASKS["en"])]
['internal_term_leak']
>>> score("Would 690 work for the Deluxe King?", task=EXAMPLE_TASKS["en"])
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.rewards.rules.defaults import DEFAULT_VERSION, EXAMPLE_TASKS, default_rule_set
from engine.rewards.rules.document import ExampleFailure, RuleSet, RuleSetError, RuleSpec, Violation
from engine.rewards.rules.engine import CHECKERS, CompiledRuleSet

RULE_IDS = tuple(r.id for r in default_rule_set().rules)
_DEFAULT: CompiledRuleSet | None = None

RulesLike = RuleSet | CompiledRuleSet | dict[str, Any] | None


def compile_rules(rules: RulesLike = None) -> CompiledRuleSet:
    """A compiled rule set from a document, a :class:`RuleSet`, or None (the default set, cached)."""
    global _DEFAULT
    if rules is None:
        if _DEFAULT is None:
            _DEFAULT = default_rule_set().compiled()
        return _DEFAULT
    if isinstance(rules, CompiledRuleSet):
        return rules
    if isinstance(rules, dict):
        rules = RuleSet.from_dict(rules)
    return rules.compiled()


def check(response: str, *, task: dict, history: Sequence[dict] = (), rules: RulesLike = None) -> list[Violation]:
    """Every rule ``response`` breaks (at most one violation per rule, with its evidence span)."""
    return compile_rules(rules).check(response, task=task, history=history)


def score(response: str, *, task: dict, history: Sequence[dict] = (), rules: RulesLike = None) -> float:
    """E_func: the sum of the (negative) points of the broken rules; 0.0 for a clean reply."""
    return float(sum(v.points for v in check(response, task=task, history=history, rules=rules)))


__all__ = [
    "CHECKERS",
    "DEFAULT_VERSION",
    "EXAMPLE_TASKS",
    "RULE_IDS",
    "CompiledRuleSet",
    "ExampleFailure",
    "RuleSet",
    "RuleSetError",
    "RuleSpec",
    "Violation",
    "check",
    "compile_rules",
    "default_rule_set",
    "score",
]
