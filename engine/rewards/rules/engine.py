"""Compile a :class:`RuleSet` into checkers and run them: E_func of PAPER.md."""

from __future__ import annotations

from collections.abc import Sequence

from engine.rewards.rules.document import RuleSet, RuleSetError, Violation
from engine.rewards.rules.prices import AcceptableOfferChecker, PriceMismatchChecker
from engine.rewards.rules.text import (
    FormatChecker,
    LengthChecker,
    MixedLanguageChecker,
    RepetitionChecker,
    TermChecker,
)

CHECKERS = {
    "internal_term_leak": TermChecker,
    "system_leak": TermChecker,
    "reasoning_leak": TermChecker,
    "format": FormatChecker,
    "mixed_language": MixedLanguageChecker,
    "too_long": LengthChecker,
    "forbidden_word": TermChecker,
    "repetition": RepetitionChecker,
    "price_mismatch": PriceMismatchChecker,
    "continued_after_acceptable_offer": AcceptableOfferChecker,
    "pattern": TermChecker,  # a team's own rule: word list and/or regexes
}


class CompiledRuleSet:
    """The enabled rules of a :class:`RuleSet`, each with its checker built once."""

    __slots__ = ("version", "rules")

    def __init__(self, rule_set: RuleSet):
        self.version = rule_set.version
        self.rules = []
        for spec in rule_set.rules:
            factory = CHECKERS.get(spec.checker_kind)
            if factory is None:
                known = ", ".join(sorted(CHECKERS))
                raise RuleSetError(f"rule {spec.id!r}: unknown kind {spec.checker_kind!r} ({known})", rule=spec.id)
            if spec.points > 0:
                raise RuleSetError(f"rule {spec.id!r}: points must be <= 0 (a deduction)", rule=spec.id)
            checker = factory(spec.id, spec.params)
            if spec.enabled:
                self.rules.append((spec.id, spec.points, checker.find))

    def check(self, reply: str, *, task: dict, history: Sequence[dict] = ()) -> list[Violation]:
        """Every rule the reply breaks, at most one violation per rule (first evidence span)."""
        low = reply.lower()
        if len(low) != len(reply):  # rare case-folding that changes length ('İ'): keep spans exact
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in reply)
        out = []
        for rule_id, points, find in self.rules:
            span = find(reply, low, task, history)
            if span is not None:
                out.append(Violation(rule_id, points, span, reply[span[0] : span[1]]))
        return out
