"""A readable, field-level diff between two versions of a reward document (rule set or rubric).

Both documents are ``{"version": ..., "rules": [{"id": ..., ...}], ...}``: rules are matched by id, so a
reordered list is no change, and inside a rule nested objects are flattened to dotted paths
(``params.terms``). A list of plain values reads as the items added and removed (a word list grows by
one word, not "the list changed"); a list of examples reads as the replies added and removed. The
``version`` field is left out: it differs between every two versions by construction.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

IGNORED_TOP_LEVEL = {"version", "rules"}


@dataclass(frozen=True)
class FieldChange:
    """One changed field: either items added/removed (lists) or a before → after value."""

    path: str
    before: str = ""
    after: str = ""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return bool(self.added or self.removed)

    def summary(self) -> str:
        if self.is_list:
            return f"{self.path}: +{len(self.added)} −{len(self.removed)}"
        return f"{self.path}: {self.before} → {self.after}"


@dataclass(frozen=True)
class RuleChange:
    """What happened to one rule (or, with ``rule == ""``, to the document's own fields)."""

    rule: str
    status: str  # "added" | "removed" | "changed"
    fields: tuple[FieldChange, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        label = self.rule or "(document)"
        if self.status != "changed":
            return f"{label} {self.status}"
        return f"{label}: " + "; ".join(f.summary() for f in self.fields)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _item_key(item: Any) -> str:
    """Identity of a list item: the whole item (the same reply in two cases is two examples)."""
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, sort_keys=True)


def _item_label(item: Any) -> str:
    """How a list item reads in the diff: an example is its reply plus a short note of its context.

    >>> _item_label({"reply": "Hi", "source": "bad_case:3", "history": [{}, {}], "task": {"hotel": {"name": "H"}}})
    'Hi  (bad_case:3; H; after 2 messages)'
    """
    if not (isinstance(item, dict) and "reply" in item):
        return _show(item)
    context = [item["source"]] if item.get("source") else []
    hotel = (item.get("task") or {}).get("hotel") or {}
    if hotel.get("name"):
        context.append(hotel["name"])
    elif item.get("language"):
        context.append(item["language"])
    if item.get("history"):
        context.append(f"after {len(item['history'])} messages")
    return f"{item['reply']}  ({'; '.join(context)})" if context else item["reply"]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _field_changes(old: dict[str, Any], new: dict[str, Any], *, skip: set[str] = frozenset()) -> list[FieldChange]:
    before, after = _flatten(old), _flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        if path.split(".")[0] in skip:
            continue
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        if isinstance(a, list | type(None)) and isinstance(b, list | type(None)) and (a or b):
            old_keys = {_item_key(x) for x in a or []}
            new_keys = {_item_key(x) for x in b or []}
            added = tuple(_item_label(x) for x in b or [] if _item_key(x) not in old_keys)
            removed = tuple(_item_label(x) for x in a or [] if _item_key(x) not in new_keys)
            if added or removed:
                changes.append(FieldChange(path, added=added, removed=removed))
            else:  # same items, new order
                changes.append(FieldChange(path, before="(order)", after="reordered"))
            continue
        changes.append(FieldChange(path, before="—" if a is None else _show(a), after="—" if b is None else _show(b)))
    return changes


def _rules_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = document.get("rules") if isinstance(document, dict) else None
    return {r["id"]: r for r in rules or [] if isinstance(r, dict) and isinstance(r.get("id"), str)}


def document_diff(*, old: dict[str, Any], new: dict[str, Any]) -> list[RuleChange]:
    """Rule-by-rule changes from ``old`` to ``new`` (document fields first, then rules in ``new``'s order).

    >>> old = {"version": "1", "rules": [{"id": "a", "points": -5, "params": {"terms": ["x"]}}]}
    >>> new = {"version": "2", "rules": [{"id": "a", "points": -9, "params": {"terms": ["x", "y"]}},
    ...                                   {"id": "b", "points": -1}]}
    >>> [c.summary() for c in document_diff(old=old, new=new)]
    ['a: params.terms: +1 −0; points: -5 → -9', 'b added']
    """
    changes: list[RuleChange] = []
    top = _field_changes(old or {}, new or {}, skip=IGNORED_TOP_LEVEL)
    if top:
        changes.append(RuleChange("", "changed", tuple(top)))
    old_rules, new_rules = _rules_by_id(old), _rules_by_id(new)
    for rule_id, rule in new_rules.items():
        if rule_id not in old_rules:
            changes.append(RuleChange(rule_id, "added", tuple(_field_changes({}, rule, skip={"id"}))))
            continue
        fields = _field_changes(old_rules[rule_id], rule, skip={"id"})
        if fields:
            changes.append(RuleChange(rule_id, "changed", tuple(fields)))
    changes += [RuleChange(rule_id, "removed") for rule_id in old_rules if rule_id not in new_rules]
    return changes


def document_text_diff(*, old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """The raw JSON view beside the readable one: unified-diff lines tagged ``add``, ``del``, ``hunk`` or ``same``."""

    def lines(doc: dict[str, Any]) -> list[str]:
        return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).splitlines()

    out = []
    for line in difflib.unified_diff(lines(old), lines(new), "old", "new", n=2, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        out.append((kind, line))
    return out
