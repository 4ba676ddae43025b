"""Price checkers: numbers the reply *presents as* task facts, and pushing past an acceptable offer.

A number is tied to the claim cue nearest before it in its clause (from the previous number or
sentence end, at most ``window`` characters back): a current-price cue ("your current price",
"目前售价"), a net cue ("you'd receive", "到手价"), a competitor cue or a competitor's name from the
task, or a suggestion cue ("how about", "调到") that makes it a proposal rather than a claim. Only
claims are checked, so quoting the task's own figures, or suggesting the target price, never fires.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from engine.rewards.rules.terms import Terms, _edge_ok
from engine.rewards.rules.text import Span, _number, _str_list

_NUMBER = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)")
_BOUNDARY = re.compile(r"[!?。！？;；\n]|\.(?!\d)")
_CURRENCY_BEFORE = ("rmb", "cny", "usd", "hkd", "eur", "jpy", "sgd")


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= max(1.0, tolerance * b)


class _Cues:
    """The claim cues of one rule, compiled into one regex with a group per claim kind."""

    KINDS = ("net", "current", "competitor", "suggest")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        self.kinds: dict[str, str] = {}
        for kind in reversed(self.KINDS):  # a phrase listed under two kinds keeps the first kind
            self.kinds.update({t.strip().lower(): kind for t in _str_list(rule_id, params, f"{kind}_cues")})
        self.cues = Terms(list(self.kinds))
        units = Terms(_str_list(rule_id, params, "units")).pattern
        # One regex finds a number and the unit after it, so "7 days" or "3晚" is skipped in C.
        self.number = re.compile(_NUMBER.pattern + (f" ?({units.pattern})?" if units else "()?"))
        self.window = int(_number(rule_id, params, "window", 60))
        self.owner = Terms(_str_list(rule_id, params, "owner_words"))

    def numbers(self, text: str, low: str) -> list[tuple[float, int, int]]:
        return _numbers(self.number, low)

    def message_prices(self, content: str) -> tuple[float, ...]:
        """The prices in a history message, cached: every later turn reads the same messages again."""
        return _message_prices(self.number, content)

    def claims(self, text: str, low: str, task: dict, numbers: list | None = None) -> list[tuple]:
        """``(value, start, end, kind, competitor_name)`` for each number tied to a claim cue.

        Cues are searched only in each number's window, not the whole reply: most of a reply lies in
        no window, and this is the hot loop of the rule set.
        """
        numbers = self.numbers(text, low) if numbers is None else numbers
        if not numbers:
            return []
        names = _competitor_names(task)
        out, previous_end = [], 0
        for value, start, end in numbers:
            floor = _sentence_start(low, max(previous_end, start - self.window), start)
            previous_end = end
            last = competitor = None
            for m in self.cues.finditer(low, floor, start):
                last = (m.end(), self.kinds[m.group()], "")
                if last[1] == "competitor":
                    competitor = last
            for name in names:
                at = low.rfind(name, floor, start)
                if at >= 0:
                    cue = (at + len(name), "competitor", name)
                    last = cue if last is None or cue[0] > last[0] else last
                    competitor = cue if competitor is None or cue[0] > competitor[0] else competitor
            if last is None or last[1] == "suggest":
                continue
            kind, name = last[1], last[2]
            if kind == "current" and competitor is not None and competitor[0] <= last[0]:
                # "Riverside Inn's current price is 699" is about the competitor; "next to Riverside
                # Inn, your current price of 780" is about the hotel: an owner word decides.
                if not (self.owner and self.owner.search(low, competitor[0], start)):
                    kind, name = "competitor", competitor[2]
            out.append((value, start, end, kind, name))
        return out


def _numbers(number: re.Pattern[str], low: str) -> list[tuple[float, int, int]]:
    """Price-like numbers: not a unit count ("7 days", "3晚"), not glued to a word ("T1")."""
    out = []
    for m in number.finditer(low):
        start, end = m.span(1)
        before = low[start - 1] if start else " "
        if before in ".,":  # the tail of "1.5" or "1,23"
            continue
        if "a" <= before <= "z" and low[max(0, start - 3) : start] not in _CURRENCY_BEFORE:
            continue
        if m.group(2) is not None and _edge_ok(low, m.start(2), m.end(2)):
            continue
        out.append((float(m.group(1).replace(",", "")), start, end))
    return out


@lru_cache(maxsize=8192)
def _message_prices(number: re.Pattern[str], content: str) -> tuple[float, ...]:
    return tuple(v for v, _, _ in _numbers(number, content.lower()))


def _sentence_start(low: str, floor: int, start: int) -> int:
    """The start of the clause that holds position ``start``, not before ``floor``."""
    for m in _BOUNDARY.finditer(low, floor, start):
        floor = m.end()
    return floor


_NAMES: dict[int, tuple[dict, frozenset[str]]] = {}


def _competitor_names(task: dict) -> frozenset[str]:
    """Lower-cased competitor names, cached per task object (a batch reuses one task many times)."""
    hit = _NAMES.get(id(task))
    if hit is not None and hit[0] is task:
        return hit[1]
    names = frozenset(
        c["name"].lower() for t in task.get("tickets", ()) for c in t.get("competitors", ()) if c.get("name")
    )
    if len(_NAMES) > 1024:
        _NAMES.clear()
    _NAMES[id(task)] = (task, names)  # holding the task keeps its id from being reused while cached
    return names


def _known_in_history(cues: _Cues, value: float, history, tolerance: float) -> bool:
    """The hotel's own figures from the dialogue may be quoted back (it may have changed its price)."""
    for message in history:
        if message.get("role") == "hotel":
            if any(_close(value, p, tolerance) for p in cues.message_prices(message.get("content", ""))):
                return True
    return False


class PriceMismatchChecker:
    """A number presented as the hotel's current or net price or a competitor's price that matches no
    figure of the task (a hallucinated price; or net and selling price confused, docs/method.md)."""

    __slots__ = ("cues", "tolerance")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        self.cues = _Cues(rule_id, params)
        self.tolerance = _number(rule_id, params, "tolerance", 0.01)

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        numbers = self.cues.numbers(reply, low)
        for value, start, end, kind, name in self.cues.claims(reply, low, task, numbers):
            if not self._consistent(value, kind, name, numbers, task):
                if not _known_in_history(self.cues, value, history, self.tolerance):
                    return (start, end)
        return None

    def _consistent(self, value: float, kind: str, name: str, numbers: list, task: dict) -> bool:
        tickets = task.get("tickets", ())
        if kind == "current":
            return any(_close(value, t["current_price"], self.tolerance) for t in tickets)
        if kind == "competitor":
            prices = [
                c["price"]
                for t in tickets
                for c in t.get("competitors", ())
                if not name or c.get("name", "").lower() == name
            ]
            return any(_close(value, p, self.tolerance) for p in prices)
        # net: the ticket's net, or what the hotel would net at any price quoted (same commission rate)
        quoted = [v for v, _, _ in numbers]
        for t in tickets:
            rate = t["net_price"] / t["current_price"]
            candidates = [t["net_price"], t["target_price"] * rate, *(q * rate for q in quoted)]
            if any(_close(value, c, self.tolerance) for c in candidates):
                return True
        return False


def _sentence(low: str, pos: int) -> tuple[int, int]:
    """The clause (between sentence ends) that holds position ``pos``."""
    start = _sentence_start(low, 0, pos)
    m = _BOUNDARY.search(low, pos)
    return start, m.start() if m else len(low)


def _ticket_named_near(low: str, pos: int, tickets) -> dict | None:
    """The ticket whose room type the clause around ``pos`` names, the mention nearest before ``pos``
    first, else the first one after it; None when the clause names no room type."""
    start, end = _sentence(low, pos)
    best: tuple[int, dict] | None = None
    for ticket in tickets:
        room = str(ticket.get("room_type", "")).lower()
        if not room:
            continue
        before = low.rfind(room, start, pos)
        after = low.find(room, pos, end)
        distance = pos - before if before >= 0 else (after - pos + len(low) if after >= 0 else None)
        if distance is not None and (best is None or distance < best[0]):
            best = (distance, ticket)
    return best[1] if best else None


class AcceptableOfferChecker:
    """The hotel's latest message offers a price at or below a ticket's target, and the reply asks for
    less *on that ticket* (a push cue, or a lower price proposed) instead of accepting at once
    (docs/method.md hard rule). Moving on to the next room of a multi-room case is not pushing: a push
    cue or a number counts only when it is about the offered ticket, by the room type named in its
    clause, else (for a number) by the ticket whose target it is nearest."""

    __slots__ = ("cues", "push", "tolerance", "_offers")

    def __init__(self, rule_id: str, params: dict[str, Any]):
        self.cues = _Cues(rule_id, params)
        self.push = Terms(_str_list(rule_id, params, "push_cues"))
        self.tolerance = _number(rule_id, params, "tolerance", 0.01)
        self._offers: dict[tuple[int, str], tuple[dict, tuple[float, dict] | None]] = {}

    def offer(self, task: dict, history) -> float | None:
        """The hotel's latest price, if it is at or below the target of the ticket it is about."""
        found = self.offered_ticket(task, history)
        return found[0] if found else None

    def offered_ticket(self, task: dict, history) -> tuple[float, dict] | None:
        """The hotel's latest price and its ticket, if the price is at or below that ticket's target.

        The ticket is the one whose room type the message names, else the one whose target is nearest
        (a hotel answering "600" to asks of 690 and 580 is talking about the second room).
        """
        for message in reversed(history):
            if message.get("role") == "hotel":
                return self._offer_in(task, message.get("content", ""))
        return None

    def _offer_in(self, task: dict, content: str) -> tuple[float, dict] | None:
        # Cached per (task, message): every later turn of a dialogue reads the same hotel message.
        key = (id(task), content)
        hit = self._offers.get(key)
        if hit is not None and hit[0] is task:
            return hit[1]
        if len(self._offers) > 4096:
            self._offers.clear()
        value = self._find_offer(task, content)
        self._offers[key] = (task, value)  # holding the task keeps its id from being reused
        return value

    def _find_offer(self, task: dict, content: str) -> tuple[float, dict] | None:
        tickets = task.get("tickets", ())
        named = [t for t in tickets if t.get("room_type", "").lower() in content.lower()] or tickets
        for value in reversed(self.cues.message_prices(content)):
            fitting = [t for t in named if 0.5 * t["target_price"] <= value <= t["current_price"] * 1.2]
            if fitting:
                ticket = min(fitting, key=lambda t: abs(value - t["target_price"]))
                return (value, ticket) if value <= ticket["target_price"] * (1 + self.tolerance) else None
        return None

    def _number_ticket(self, low: str, start: int, value: float, tickets) -> dict | None:
        named = _ticket_named_near(low, start, tickets)
        if named is not None:
            return named
        fitting = [t for t in tickets if 0.5 * t["target_price"] <= value <= t["current_price"] * 1.2]
        return min(fitting, key=lambda t: abs(value - t["target_price"])) if fitting else None

    def find(self, reply: str, low: str, task: dict, history) -> Span | None:
        if not history:
            return None
        found = self.offered_ticket(task, history)
        if found is None:
            return None
        offer, offered = found
        tickets = task.get("tickets", ())
        if self.push:
            for m in self.push.finditer(low):
                about = _ticket_named_near(low, m.start(), tickets)
                if about is None or about is offered:
                    return m.span()
        numbers = self.cues.numbers(reply, low)
        claimed = {start for _, start, _, _, _ in self.cues.claims(reply, low, task, numbers)}
        lowest = offered["target_price"] * 0.5
        for value, start, end in numbers:
            if start in claimed or not lowest <= value < offer * (1 - self.tolerance):
                continue
            if self._number_ticket(low, start, value, tickets) is offered:
                return (start, end)
        return None
