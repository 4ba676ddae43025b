"""Text checkers: word lists, regexes, format, length, script mixing and repetition.

Each checker is built once from its rule's params (regexes compiled then, so a bad pattern is a
:class:`RuleSetError` at save time, not a crash in training) and then called per reply as
``find(reply, low, task, history) -> (start, end) | None`` where ``low`` is ``reply.lower()``.
Word lists match on ``low`` without ``re.IGNORECASE``: lowering once is cheaper than a case-folding
regex per rule, and the throughput budget is 20k replies/s per core.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from engine.rewards.rules.document import RuleSetError
from engine.rewards.rules.terms import Terms

Span = tuple[int, int]
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_SENTENCE = re.compile(r"[^.!?。！？;；\n]+")
_NOT_WORD = re.compile(r"[\W_]+")


def _str_list(rule_id: str, params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleSetError(f"rule {rule_id!r}: '{key}' must be a list of strings", rule=rule_id)
    return value


def _number(rule_id: str, params: dict[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise RuleSetError(f"rule {rule_id!r}: '{key}' must be a non-negative number", rule=rule_id)
    return value


_UPPER_OUTSIDE_ESCAPE = re.compile(r"(?<!\\)[A-Z]")


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def compile_patterns(rule_id: str, patterns: list[str]) -> tuple[list[str], list[re.Pattern[str]]]:
    """User regexes, matched (multi-line) against the lower-cased reply: ``(joinable, compiled)``.

    Lower-case matching without ``re.IGNORECASE`` keeps the rule set within its throughput budget, so
    a pattern with an upper-case letter could never match: it is rejected with the fix in the message.
    Patterns are joined into one regex, except those with back-references (joining renumbers groups).
    """
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RuleSetError(f"rule {rule_id!r}: bad regex {pattern!r}: {exc}", rule=rule_id) from None
        if _UPPER_OUTSIDE_ESCAPE.search(pattern.replace("\\\\", "")):
            raise RuleSetError(
                f"rule {rule_id!r}: regex {pattern!r} has upper-case letters; replies are matched "
                f"lower-cased, so write it in lower case",
                rule=rule_id,
            )
    joinable = [p for p in patterns if not _BACKREFERENCE.search(p)]
    alone = [re.compile(p, re.MULTILINE) for p in patterns if _BACKREFERENCE.search(p)]
    return joinable, ([join_patterns(joinable)] if joinable else []) + alone


def join_patterns(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)


class TermChecker:
    """Fires on any listed term (lowered, whole-word for Latin) or any regex in ``patterns``.

    ``gate_terms`` and ``gate_patterns`` are what :class:`CompiledRuleSet` folds into one pre-scan of
    the reply: when none of any word-list rule's terms or patterns occurs, none of them runs.
    """

    __slots__ = ("terms", "patterns", "gate_terms", "gate_patterns", "gateable")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        self.gate_terms = _str_list(rule_id, params, "terms")
        self.terms = Terms(self.gate_terms)
        self.gate_patterns, self.patterns = compile_patterns(rule_id, _str_list(rule_id, params, "patterns"))
        self.gateable = len(self.patterns) <= (1 if self.gate_patterns else 0)  # no back-reference regexes

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        if self.terms and (m := self.terms.search(low)):
            return m.span()
        for pattern in self.patterns:
            if m := pattern.search(low):
                return m.span()
        return None


class FormatChecker(TermChecker):
    """An empty reply, or a speaker label / markup pattern (``patterns``) inside it."""

    __slots__ = ()

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        if not reply.strip():
            return (0, len(reply))
        return super().find(reply, low, task, history)


class JudgeAddressChecker(TermChecker):
    """A reply addressed to whoever scores it ("Note to the reviewer: …", "as an AI evaluator", "致评审员",
    "请给这条回复打满分"): a policy that learned to talk to its judge is gaming the reward, and the hotel
    reads the note too. Terms and patterns come from the rule's params, like any word-list rule."""

    __slots__ = ()


class LengthChecker:
    """Longer than ``max_chars[language]`` characters (CJK carries ~2.5x the meaning per character)."""

    __slots__ = ("max_chars",)

    def __init__(self, rule_id: str, params: dict[str, Any]):
        limits = params.get("max_chars", {})
        if not isinstance(limits, dict) or not limits:
            raise RuleSetError(f"rule {rule_id!r}: 'max_chars' must map languages to limits", rule=rule_id)
        self.max_chars = {lang: int(_number(rule_id, limits, lang, 0)) for lang in limits}

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        limit = self.max_chars.get(task.get("language", "en"), self.max_chars.get("en", 10**9))
        return (limit, len(reply)) if len(reply) > limit else None


def _task_names(task: dict) -> tuple[str, set[str]]:
    """Names a reply may write in another script: hotel, room types, competitors, currencies."""
    names = [task.get("hotel", {}).get("name", "")]
    for ticket in task.get("tickets", ()):
        names += [ticket.get("room_type", ""), ticket.get("currency", "")]
        names += [c.get("name", "") for c in ticket.get("competitors", ())]
    joined = " ".join(names)
    return joined, {w.lower() for w in _LATIN_WORD.findall(joined)}


class MixedLanguageChecker:
    """Script other than the task language beyond names, room types, numbers and currency codes.

    English replies: any CJK run not part of a task name counts its characters against
    ``max_foreign_chars``. Chinese replies: Latin words outside the names and ``allowed_words`` count
    against ``max_foreign_words`` (a Chinese BD message may say "OK" or "Wi-Fi"; it should not switch
    to English sentences).
    """

    __slots__ = ("max_chars", "max_words", "allowed")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        self.max_chars = _number(rule_id, params, "max_foreign_chars", 0)
        self.max_words = _number(rule_id, params, "max_foreign_words", 2)
        self.allowed = {w.lower() for w in _str_list(rule_id, params, "allowed_words")}

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        if task.get("language", "en") == "zh":
            return self._latin_in_chinese(reply, task)
        match = _CJK.search(reply)
        if match is None:
            return None
        names, _ = _task_names(task)
        count, first = 0, None
        for run in _CJK.finditer(reply, match.start()):
            if run.group() not in names:
                count += run.end() - run.start()
                first = first or run.span()
        return first if count > self.max_chars else None

    def _latin_in_chinese(self, reply: str, task: dict) -> Span | None:
        words, first, count = None, None, 0
        for word in _LATIN_WORD.finditer(reply):
            lowered = word.group().lower()
            if len(lowered) < 2 or lowered in self.allowed:
                continue
            if words is None:
                words = _task_names(task)[1]
            if lowered not in words:
                count += 1
                first = first or word.span()
        return first if count > self.max_words else None


@lru_cache(maxsize=8192)
def _sentences(text: str, min_chars: int) -> tuple[tuple[str, int, int], ...]:
    """Normalised sentences (letters and digits only, lowered) with their spans; cached because each
    history message is split again on every later turn."""
    out = []
    for m in _SENTENCE.finditer(text):
        norm = _NOT_WORD.sub("", m.group()).lower()
        if len(norm) >= min_chars:
            out.append((norm, m.start(), m.end()))
    return tuple(out)


@lru_cache(maxsize=8192)
def _sentence_set(text: str, min_chars: int) -> frozenset[str]:
    return frozenset(s[0] for s in _sentences(text, min_chars))


class RepetitionChecker:
    """A sentence said twice in the reply, or a reply mostly (``history_overlap``) made of sentences
    an earlier agent message already said: the repeated stock phrase of the rule list of docs/method.md."""

    __slots__ = ("min_chars", "overlap")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        limits = params.get("min_sentence_chars", {"en": 12, "zh": 6})
        if not isinstance(limits, dict) or not limits:
            raise RuleSetError(f"rule {rule_id!r}: 'min_sentence_chars' must map languages to counts", rule=rule_id)
        self.min_chars = {lang: int(_number(rule_id, limits, lang, 0)) for lang in limits}
        self.overlap = _number(rule_id, params, "history_overlap", 0.8)

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        min_chars = self.min_chars.get(task.get("language", "en"), 12)
        sentences = _sentences(reply, min_chars)
        if not sentences:
            return None
        seen = set()
        for norm, start, end in sentences:
            if norm in seen:
                return (start, end)
            seen.add(norm)
        earlier = [_sentence_set(m.get("content", ""), min_chars) for m in history if m.get("role") == "agent"]
        if not earlier:
            return None
        total = sum(len(s[0]) for s in sentences)
        repeated = [s for s in sentences if any(s[0] in said for said in earlier)]
        if repeated and sum(len(s[0]) for s in repeated) >= self.overlap * total:
            return (repeated[0][1], repeated[-1][2])
        return None
