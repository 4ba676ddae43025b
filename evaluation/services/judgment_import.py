"""Import judgments rated offline (spreadsheets) from JSONL, one judgment per line:

    {"eval_set": "...", "kind": "online"|"bad_case", "dialogue": "<external id>", "system": "<name>",
     "rater": "<name>", "consensus": true|false, "rating": 1-5, "excellent_turns": [..],
     "skills": {"fluency": bool, ...}, "fix_status": "..."}

Every line is validated before anything is written; on any error nothing is imported and each bad line
is reported with its number and reason. Missing eval sets, systems and dialogue references are created.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Dialogue
from engine.vocab import EVAL_SET_KINDS, FIX_STATUSES, SKILLS
from evaluation.models import EvalItem, EvalSet, EvalSystem, Judgment
from evaluation.selectors.sets import eval_set_latest
from kernel.audit import audit_record
from kernel.text import json_line, json_problems, text_error

KINDS = EVAL_SET_KINDS
REQUIRED = ("eval_set", "kind", "dialogue", "system", "rater")
OPTIONAL = ("consensus", "rating", "excellent_turns", "skills", "fix_status")

ERR_JSON = "not valid JSON ({})"
ERR_UTF8 = "invalid UTF-8 at byte {}"
ERR_NOT_OBJECT = "a line must be a JSON object"
ERR_MISSING = "missing field {!r}"
ERR_UNKNOWN = "unknown field {!r}"
ERR_TEXT = "{!r} must be a non-empty string"
ERR_KIND = "kind must be " + " or ".join(map(repr, EVAL_SET_KINDS)) + ", not {!r}"
ERR_KIND_MISMATCH = "eval set {!r} is {}, not {}"
ERR_CONSENSUS_TYPE = "consensus must be true or false"
ERR_RATING = "rating must be an integer from 1 to 5, not {!r}"
ERR_RATING_REQUIRED = "an online judgment needs a rating (1-5)"
ERR_TURNS = "excellent_turns must be a list of turn numbers (integers >= 0)"
ERR_SKILLS = "skills must be an object with true/false for exactly " + ", ".join(SKILLS)
ERR_FIX_STATUS = "unknown fix_status {!r} (one of " + ", ".join(FIX_STATUSES) + ")"
ERR_FIX_REQUIRED = "a bad_case judgment needs a fix_status"
ERR_WRONG_FIELD = "{!r} is not used on {} sets"
ERR_TWICE = "rater {!r} already judged dialogue {!r} for system {!r}{}"
ERR_CONSENSUS_TWICE = "dialogue {!r} already has a consensus for system {!r}{}"
ERR_CONSENSUS_ALONE = "consensus for dialogue {!r}, system {!r} has no rater judgments to rest on"
ERR_FROZEN = "eval set {!r} is frozen and has no dialogue {!r}"
ERR_EMPTY = "the file holds no judgments"


class JudgmentImportError(Exception):
    """Bad lines: ``errors`` is a list of (line number, reason)."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        super().__init__("; ".join(f"line {n}: {reason}" for n, reason in errors))


@dataclass
class ImportSummary:
    judgments: int = 0
    consensus: int = 0
    created_sets: list[str] = field(default_factory=list)
    created_systems: list[str] = field(default_factory=list)
    created_items: int = 0


TEXT_LIMITS = {"eval_set": 200, "dialogue": 200, "system": 200, "rater": 150}  # the model columns


def _text(row: dict, key: str) -> str | None:
    value = row.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and key == "dialogue":
        value = str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _kind_errors(row: dict, kind: str) -> list[str]:
    """The per-kind fields: rating/excellent_turns/skills for online, fix_status (+ skills) for bad cases."""
    errors = []
    rating, turns, skills, status = (row.get(k) for k in ("rating", "excellent_turns", "skills", "fix_status"))
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        errors.append(ERR_RATING.format(rating))
    if turns is not None and (
        not isinstance(turns, list) or any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in turns)
    ):
        errors.append(ERR_TURNS)
    if skills is not None and (
        not isinstance(skills, dict)
        or set(skills) != set(SKILLS)
        or any(not isinstance(v, bool) for v in skills.values())
    ):
        errors.append(ERR_SKILLS)
    if status is not None and status not in FIX_STATUSES:
        errors.append(ERR_FIX_STATUS.format(status))
    if kind == "online":
        if rating is None:
            errors.append(ERR_RATING_REQUIRED)
        if status is not None:
            errors.append(ERR_WRONG_FIELD.format("fix_status", kind))
    else:
        if status is None:
            errors.append(ERR_FIX_REQUIRED)
        for key in ("rating", "excellent_turns"):
            if row.get(key) not in (None, []):
                errors.append(ERR_WRONG_FIELD.format(key, kind))
    return errors


def line_errors(row) -> list[str]:
    """Everything wrong with one parsed line on its own (no database)."""
    if not isinstance(row, dict):
        return [ERR_NOT_OBJECT]
    errors = [ERR_UNKNOWN.format(k) for k in row if k not in REQUIRED + OPTIONAL]
    for key in REQUIRED:
        if key not in row:
            errors.append(ERR_MISSING.format(key))
        elif key != "kind" and _text(row, key) is None:
            errors.append(ERR_TEXT.format(key))
        elif key in TEXT_LIMITS and isinstance(row[key], str):
            errors += filter(None, [text_error(row[key], field=key, max_len=TEXT_LIMITS[key])])
    kind = row.get("kind")
    if "kind" in row and kind not in KINDS:
        errors.append(ERR_KIND.format(kind))
    if not isinstance(row.get("consensus", False), bool):
        errors.append(ERR_CONSENSUS_TYPE)
    if kind in KINDS:
        errors += _kind_errors(row, kind)
    return errors


def _parse(lines: Iterable[str | bytes]) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    rows, errors = [], []
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append((number, ERR_UTF8.format(exc.start)))
                continue
        raw = raw.removeprefix("\ufeff").removesuffix("\n").removesuffix("\r")
        if not raw.strip():
            continue
        try:
            row = json_line(raw)  # bounded: depth, digits, finite numbers, no bare \r
        except ValueError as exc:
            errors.append((number, ERR_JSON.format(exc)))
            continue
        problems = json_problems(row) or line_errors(row)
        errors += [(number, p) for p in problems]
        if not problems:
            rows.append((number, row))
    return rows, errors


@dataclass
class _SetState:
    """What the database already holds for one set name: its newest version, items and judgment keys."""

    eval_set: EvalSet | None
    items: set[str] = field(default_factory=set)
    keys: set[tuple] = field(default_factory=set)  # (dialogue, system, rater), rater None for the consensus
    rated: set[tuple] = field(default_factory=set)  # (dialogue, system) with at least one rater judgment


def _set_state(name: str) -> _SetState:
    eval_set = eval_set_latest(name=name)
    state = _SetState(eval_set)
    if eval_set is None:
        return state
    state.items = set(eval_set.items.values_list("external_id", flat=True))
    judged = Judgment.objects.filter(item__eval_set=eval_set)
    for dialogue, system, rater, consensus in judged.values_list(
        "item__external_id", "system__name", "rater", "consensus"
    ):
        state.keys.add((dialogue, system, None if consensus else rater))
        if not consensus:
            state.rated.add((dialogue, system))
    return state


def _cross_errors(rows: list[tuple[int, dict]]) -> list[tuple[int, str]]:
    """Checks against the database and between lines: kinds, frozen sets, duplicates, lone consensus."""
    errors: list[tuple[int, str]] = []
    states: dict[str, _SetState] = {}
    kinds: dict[str, str] = {}
    seen: set[tuple] = set()
    for number, row in rows:
        name, dialogue, system = _text(row, "eval_set"), _text(row, "dialogue"), _text(row, "system")
        state = states.get(name) or states.setdefault(name, _set_state(name))
        kind = state.eval_set.kind if state.eval_set else kinds.setdefault(name, row["kind"])
        if kind != row["kind"]:
            errors.append((number, ERR_KIND_MISMATCH.format(name, kind, row["kind"])))
            continue
        if state.eval_set and state.eval_set.is_frozen and dialogue not in state.items:
            errors.append((number, ERR_FROZEN.format(name, dialogue)))
            continue
        consensus = row.get("consensus", False)
        rater = None if consensus else _text(row, "rater")
        key = (name, dialogue, system, rater)
        if key in seen or (dialogue, system, rater) in state.keys:
            where = " in this file" if key in seen else ""
            message = (
                ERR_CONSENSUS_TWICE.format(dialogue, system, where)
                if consensus
                else ERR_TWICE.format(rater, dialogue, system, where)
            )
            errors.append((number, message))
        if not consensus:
            state.rated.add((dialogue, system))
        seen.add(key)
    for number, row in rows:
        name, dialogue, system = _text(row, "eval_set"), _text(row, "dialogue"), _text(row, "system")
        if row.get("consensus", False) and (dialogue, system) not in states[name].rated:
            errors.append((number, ERR_CONSENSUS_ALONE.format(dialogue, system)))
    return sorted(errors)


def _get_set(name: str, kind: str, summary: ImportSummary, cache: dict) -> EvalSet:
    if name not in cache:
        cache[name] = eval_set_latest(name=name)
        if cache[name] is None:
            cache[name] = EvalSet.objects.create(name=name, kind=kind, description="Created by a judgment import.")
            summary.created_sets.append(name)
    return cache[name]


def _get_item(eval_set: EvalSet, external_id: str, summary: ImportSummary) -> EvalItem:
    item = eval_set.items.filter(external_id=external_id).first()
    if item is None:
        matches = list(Dialogue.objects.filter(external_id=external_id)[:2])
        item = EvalItem(
            eval_set=eval_set,
            external_id=external_id,
            dialogue=matches[0] if len(matches) == 1 else None,
            position=eval_set.items.count(),
        )
        item.full_clean()
        item.save()
        summary.created_items += 1
    return item


def _get_system(name: str, summary: ImportSummary) -> EvalSystem:
    system, created = EvalSystem.objects.get_or_create(name=name, defaults={"is_gold": name.lower() == "gold"})
    if created:
        summary.created_systems.append(name)
    return system


def judgments_import(*, lines: Iterable[str | bytes], actor=None, source_name: str = "") -> ImportSummary:
    """Validate every line, then write all of them in one transaction (or none: ``JudgmentImportError``)."""
    rows, errors = _parse(lines)
    if not errors:
        errors = _cross_errors(rows)
    if not errors and not rows:
        errors = [(0, ERR_EMPTY)]
    if errors:
        raise JudgmentImportError(errors)
    summary, sets, items, systems = ImportSummary(), {}, {}, {}
    users = {u.username: u for u in get_user_model().objects.filter(username__in={r["rater"] for _, r in rows})}
    with transaction.atomic():
        judgments = []
        for _, row in rows:
            name, dialogue, system = _text(row, "eval_set"), _text(row, "dialogue"), _text(row, "system")
            eval_set = _get_set(name, row["kind"], summary, sets)
            if (name, dialogue) not in items:
                items[(name, dialogue)] = _get_item(eval_set, dialogue, summary)
            if system not in systems:
                systems[system] = _get_system(system, summary)
            consensus = bool(row.get("consensus", False))
            judgment = Judgment(
                item=items[(name, dialogue)],
                system=systems[system],
                rater=_text(row, "rater"),
                user=users.get(_text(row, "rater")),
                consensus=consensus,
                rating=row.get("rating"),
                excellent_turns=sorted(set(row.get("excellent_turns") or [])),
                skills=row.get("skills") or {},
                fix_status=row.get("fix_status") or "",
                source=Judgment.Source.IMPORT,
            )
            # Uniqueness was checked across the file and the database above (the database enforces it too), and
            # the related rows were just fetched: skip the per-row queries of full validation.
            judgment.full_clean(exclude=["item", "system", "user"], validate_unique=False, validate_constraints=False)
            judgments.append(judgment)
            summary.consensus += consensus
            summary.judgments += not consensus
        Judgment.objects.bulk_create(judgments)
        audit_record(
            actor=actor,
            action="import",
            object_type="evaluation.judgment",
            object_id="",
            after={"judgments": summary.judgments, "consensus": summary.consensus, "sets": sorted(sets)},
            note=source_name,
        )
    return summary
