"""Literal word and cue lists, matched fast: one prefix-trie regex per list, whole words for Latin.

The throughput budget of the rule set (20k replies/s per core) is spent mostly here: every word-list
rule and every price cue list is one :class:`Terms`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def _edge_ok(text: str, start: int, end: int) -> bool:
    """Latin terms match whole words only; CJK terms (no spaces between words) match anywhere."""
    if start and text[start].isascii() and text[start].isalnum():
        before = text[start - 1]
        if before.isascii() and before.isalnum():
            return False
    if end < len(text) and text[end - 1].isascii() and text[end - 1].isalnum():
        after = text[end]
        if after.isascii() and after.isalnum():
            return False
    return True


def _trie_regex(terms: set[str]) -> str:
    """A regex for the terms as a prefix trie (``ab|ac`` -> ``a(?:b|c)``), longest match first.

    ``re`` tries each alternative of a flat alternation at every position; a trie tries one branch
    per character, which is what keeps a 100-term cue list within the per-reply budget.

    >>> print(_trie_regex({"you'd", "your", "you'll", "you"}))
    you(?:(?:'(?:d|ll)|r))?
    """
    trie: dict = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(c) + build(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return body + "?" if len(branches) == 1 and len(body) == 1 else "(?:" + body + ")?"
        return body

    return build(trie)


class Terms:
    """Literal terms for lowered text: one plain alternation, word edges checked on each hit.

    A plain alternation of literals is ~10x faster in ``re`` than one with ``\\b`` around each term,
    and ``\\b`` is wrong for Chinese anyway (CJK characters count as word characters).

    >>> Terms(["Work order", "工单"]).search("this WORK ORDER".lower()).group()
    'work order'
    >>> Terms(["ticket"]).search("tickets and more") is None
    True
    """

    __slots__ = ("pattern",)

    def __init__(self, terms: list[str]):
        unique = {t.strip().lower() for t in terms if t.strip()}
        self.pattern = re.compile(_trie_regex(unique)) if unique else None

    def __bool__(self) -> bool:
        return self.pattern is not None

    def finditer(self, low: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        endpos = len(low) if endpos is None else endpos
        m = self.search(low, pos, endpos)
        while m is not None:
            yield m
            m = self.search(low, m.end(), endpos)

    def search(self, low: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """The first whole-word hit (a plain loop: this is the hot path, no generator)."""
        pattern = self.pattern
        if pattern is None:
            return None
        endpos = len(low) if endpos is None else endpos
        m = pattern.search(low, pos, endpos)
        while m is not None and not _edge_ok(low, m.start(), m.end()):
            # The longest term here ends inside a word ("price chase" in "price chaser"): a shorter
            # term at the same start may still be whole ("price"), else move one character on.
            shorter = pattern.match(low, m.start(), m.end() - 1) if m.end() - 1 > m.start() else None
            m = shorter if shorter is not None else pattern.search(low, m.start() + 1, endpos)
        return m
