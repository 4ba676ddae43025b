"""Compile a :class:`RuleSet` into checkers and run them: E_func of docs/method.md."""

from __future__ import annotations

from collections.abc import Sequence

from engine.rewards.rules.document import RuleSet, RuleSetError, Violation
from engine.rewards.rules.prices import AcceptableOfferChecker, PriceMismatchChecker
from engine.rewards.rules.terms import Terms
from engine.rewards.rules.text import (
    FormatChecker,
    JudgeAddressChecker,
    LengthChecker,
    MixedLanguageChecker,
    RepetitionChecker,
    Span,
    TermChecker,
    join_patterns,
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
    "judge_addressed": JudgeAddressChecker,
    "pattern": TermChecker,  # a team's own rule: word list and/or regexes
}


class CompiledRuleSet:
    """The enabled rules of a :class:`RuleSet`, each with its checker built once."""

    __slots__ = ("version", "rules", "gate_terms", "gate_patterns")

    def __init__(self, rule_set: RuleSet):
        self.version = rule_set.version
        self.rules = []
        gate_terms: list[str] = []
        gate_patterns: list[str] = []
        for spec in rule_set.rules:
            factory = CHECKERS.get(spec.checker_kind)
            if factory is None:
                known = ", ".join(sorted(CHECKERS))
                raise RuleSetError(f"rule {spec.id!r}: unknown kind {spec.checker_kind!r} ({known})", rule=spec.id)
            if spec.points > 0:
                raise RuleSetError(f"rule {spec.id!r}: points must be <= 0 (a deduction)", rule=spec.id)
            checker = factory(spec.id, spec.params)
            if not spec.enabled:
                continue
            gated = isinstance(checker, TermChecker) and checker.gateable
            if gated:
                gate_terms += checker.gate_terms
                gate_patterns += checker.gate_patterns
            self.rules.append((spec.id, spec.points, checker.find, gated))
        # One pre-scan for all word-list rules: most replies in training hit none of them.
        self.gate_terms = Terms(gate_terms)
        self.gate_patterns = join_patterns(gate_patterns) if gate_patterns else None

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The enabled rules, in order."""
        return tuple(rule[0] for rule in self.rules)

    def check(self, reply: str, *, task: dict, history: Sequence[dict] = ()) -> list[Violation]:
        """Every rule the reply breaks, at most one violation per rule (first evidence span)."""
        low = reply.lower()
        if len(low) != len(reply):  # rare case-folding that changes length ('İ'): keep spans exact
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in reply)
        gates_clear = bool(reply.strip()) and not (
            self.gate_terms.search(low) or (self.gate_patterns is not None and self.gate_patterns.search(low))
        )
        out = []
        for rule_id, points, find, gated in self.rules:
            if gated and gates_clear:
                continue
            span = find(reply, low, task, history)
            if span is not None:
                out.append(Violation(rule_id, points, span, reply[span[0] : span[1]]))
        return out

    def evidence_spans(
        self, reply: str, *, task: dict, history: Sequence[dict] = (), limit: int = 20
    ) -> dict[str, list[Span]]:
        """Every evidence span of every rule that fires (up to ``limit`` per rule), for showing a reply
        with all its evidence marked (the playground); training only needs :meth:`check`'s first span.
        After each span the rule's checker looks again in the rest of the reply."""
        low = reply.lower()
        if len(low) != len(reply):
            low = "".join(c.lower() if len(c.lower()) == 1 else c for c in reply)
        out: dict[str, list[Span]] = {}
        for rule_id, _points, find, _gated in self.rules:
            spans: list[Span] = []
            offset = 0
            while len(spans) < limit and offset <= len(reply):
                if spans and not reply[offset:].strip():
                    break  # only blank text left: nothing more to mark (an empty-reply check would fire)
                span = find(reply[offset:], low[offset:], task, history)
                if span is None:
                    break
                start, end = span[0] + offset, span[1] + offset
                spans.append((start, end))
                offset = max(end, start + 1)
            if spans:
                out[rule_id] = spans
        return out
