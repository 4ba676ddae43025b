"""Checks for one line of a dialogue import (docs/import-schema.md): every problem, as plain strings.

Pure functions over the parsed JSON plus an ``ImportContext`` (the SOP's stage keys and clause codes),
so the whole file can be validated before anything is written. Checks that need the database (external
ids already imported, annotators that exist) run once over the whole file in ``imports``.
Limits mirror the model fields, so nothing that passes here can fail on insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.task import MAX_MESSAGE_CHARS, message_errors, task_errors
from engine.vocab import (
    BAD_CASE_CATEGORIES,
    CANDIDATE_SOURCES,
    DIALOGUE_SOURCES,
    OUTCOME_FIELDS,
    PRICE_REDUCED,
    PROVENANCES,
    SEVERITIES,
    STRENGTHS,
)
from kernel.text import text_error

MAX_PRICE = 10**10  # DecimalField(max_digits=12, decimal_places=2): below this once rounded to cents
_TEXT_LIMITS = {"external_id": 200, "hotel": 200, "city": 100, "room_type": 200, "currency": 8, "ticket_id": 20}
MAX_STAGE_CHARS = 50  # Message.stage
MAX_BENEFITS, MAX_BENEFIT_CHARS = 20, 300
MAX_COMPETITORS, MAX_COMPETITOR_NAME_CHARS = 20, 200
MAX_NOTE_CHARS = 2000  # a preference pair's note (the same limit as an answer's note)
MAX_OUTCOME_INT = 2**31 - 1


@dataclass(frozen=True)
class ImportContext:
    """What a line is checked against: the project's SOP (None when the project has none)."""

    stage_keys: frozenset[str] | None
    clause_codes: frozenset[str]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, *, limit: int, required: bool = True) -> bool:
    if value is None:
        return not required
    return isinstance(value, str) and len(value) <= limit and (bool(value.strip()) or not required)


def dialogue_errors(record: Any, *, ctx: ImportContext) -> list[str]:
    """Every problem of one parsed line (empty when it can be imported).

    >>> dialogue_errors({"external_id": "x", "case": {}, "messages": []}, ctx=ImportContext(None, frozenset()))[:2]
    ['case.hotel.name: required string', 'case.tickets: at least one ticket is required']
    """
    if not isinstance(record, dict):
        return ["a line must be a JSON object"]
    errors = []
    if not _text(record.get("external_id"), limit=_TEXT_LIMITS["external_id"]):
        errors.append("external_id: required string of at most 200 characters")
    if record.get("source", "curated") not in DIALOGUE_SOURCES:
        errors.append(f"source: must be one of {', '.join(DIALOGUE_SOURCES)}")
    errors += [f"case.{e}" for e in case_errors(record.get("case"))]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*errors, "messages: a dialogue needs at least one message"]
    for i, message in enumerate(messages):
        errors += [f"messages[{i}].{e}" for e in _message_errors(message, ctx=ctx)]
    errors += _outcome_errors(record.get("outcome", {}))
    if errors:  # annotations point into messages: only check them against a sound dialogue
        return errors
    roles = [m["role"] for m in messages]
    keys, candidate_errors = _candidates_errors(record.get("candidates", []), roles=roles)
    errors += candidate_errors
    errors += _pairs_errors(record.get("pairs", []), roles=roles, keys=keys)
    errors += _bad_cases_errors(record.get("bad_cases", []), roles=roles, ctx=ctx)
    errors += _excellent_errors(record.get("excellent_turns", []), roles=roles)
    return errors


def case_errors(case: Any) -> list[str]:
    """``engine.task``'s schema plus the database's limits (lengths, price range, cents)."""
    errors = task_errors(case)
    if errors:
        return errors
    benefits = case.get("benefits", [])
    if len(benefits) > MAX_BENEFITS:
        errors.append(f"benefits: at most {MAX_BENEFITS}")
    errors += filter(
        None, (text_error(b, field=f"benefits[{i}]", max_len=MAX_BENEFIT_CHARS) for i, b in enumerate(benefits))
    )
    if not _text(case["hotel"].get("city"), limit=_TEXT_LIMITS["city"], required=False):
        errors.append("hotel.city: string of at most 100 characters")
    if len(case["hotel"]["name"]) > _TEXT_LIMITS["hotel"]:
        errors.append("hotel.name: at most 200 characters")
    for i, ticket in enumerate(case["tickets"]):
        errors += [f"tickets[{i}].{e}" for e in _ticket_limits(ticket)]
    return errors


def _ticket_limits(ticket: dict) -> list[str]:
    errors = []
    if len(ticket["room_type"]) > _TEXT_LIMITS["room_type"]:
        errors.append("room_type: at most 200 characters")
    if len(ticket.get("currency", "CNY")) > _TEXT_LIMITS["currency"]:
        errors.append("currency: at most 8 characters")
    if not _text(ticket.get("id"), limit=_TEXT_LIMITS["ticket_id"], required=False):
        errors.append("id: string of at most 20 characters")
    competitors = ticket.get("competitors", [])
    if len(competitors) > MAX_COMPETITORS:
        errors.append(f"competitors: at most {MAX_COMPETITORS}")
    for j, comp in enumerate(competitors):
        error = text_error(comp["name"], field=f"competitors[{j}].name", max_len=MAX_COMPETITOR_NAME_CHARS)
        errors += [error] if error else []
        if comp["price"] >= MAX_PRICE:
            errors.append(f"competitors[{j}].price: must be below {MAX_PRICE}")
    prices = {f: ticket[f] for f in ("current_price", "net_price", "target_price")}
    cents = {f: round(p, 2) for f, p in prices.items()}  # what the database keeps
    if any(c >= MAX_PRICE for c in cents.values()):  # 9999999999.999 rounds to 10 digits before the point
        return [*errors, f"prices: must be below {MAX_PRICE} once rounded to cents"]
    if any(c <= 0 for c in cents.values()):
        return [*errors, "prices: must be at least 0.01 once rounded to cents"]
    if cents["target_price"] >= cents["current_price"] or cents["net_price"] >= cents["current_price"]:
        errors.append("prices: net and target must stay below current when rounded to cents")
    return errors


def _message_errors(message: Any, *, ctx: ImportContext) -> list[str]:
    errors = message_errors(message)
    if errors:
        return errors
    if not message["content"].strip():
        errors.append("content: must not be empty")
    stage = message.get("stage")
    if stage is not None and len(stage) > MAX_STAGE_CHARS:
        errors.append(f"stage: {len(stage)} characters, the limit is {MAX_STAGE_CHARS}")
    elif stage is not None and ctx.stage_keys is not None and stage not in ctx.stage_keys:
        errors.append(f"stage: {stage!r} is not a stage of the project's SOP")
    return errors


def _outcome_errors(outcome: Any) -> list[str]:
    if not isinstance(outcome, dict):
        return ["outcome: must be an object"]
    errors = []
    for key, value in outcome.items():
        kind = OUTCOME_FIELDS.get(key)
        if kind is None:
            errors.append(f"outcome.{key}: unknown field")
        elif kind is int and not (_is_int(value) and 0 <= value <= MAX_OUTCOME_INT):
            errors.append(f"outcome.{key}: must be an integer from 0 to {MAX_OUTCOME_INT}")
        elif kind is not int and not isinstance(value, kind):
            errors.append(f"outcome.{key}: must be a {kind.__name__}")
    if isinstance(outcome.get("price_reduced"), str) and outcome["price_reduced"] not in PRICE_REDUCED:
        errors.append(f"outcome.price_reduced: must be one of {', '.join(PRICE_REDUCED)}")
    return errors


def _turn_error(turn: Any, *, roles: list[str]) -> str | None:
    """A turn is the index of the agent reply being judged; ``len(messages)`` means the next reply."""
    if not _is_int(turn) or not 0 <= turn <= len(roles):
        return f"turn: must be an integer from 0 to {len(roles)}"
    if turn < len(roles) and roles[turn] != "agent":
        return f"turn: message {turn} is a {roles[turn]} message, not an agent reply"
    return None


def _choice_error(value: Any, allowed: tuple[str, ...], field: str) -> str | None:
    return None if value in allowed else f"{field}: {value!r} is not one of {', '.join(allowed)}"


def _reply_error(text: Any, field: str, *, required: bool = True) -> str | None:
    if text is None and not required:
        return None
    if not isinstance(text, str) or not text.strip():
        return f"{field}: required non-empty string"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"{field}: {len(text)} characters, the limit is {MAX_MESSAGE_CHARS}"
    return None


def _candidates_errors(candidates: Any, *, roles: list[str]) -> tuple[dict[str, int], list[str]]:
    if not isinstance(candidates, list):
        return {}, ["candidates: must be a list"]
    keys: dict[str, int] = {}
    errors = []
    for i, cand in enumerate(candidates):
        where = f"candidates[{i}]"
        if not isinstance(cand, dict):
            errors.append(f"{where}: must be an object")
            continue
        key = cand.get("key")
        if not _text(key, limit=100):
            errors.append(f"{where}.key: required string of at most 100 characters")
        elif key in keys:
            errors.append(f"{where}.key: duplicate key {key!r}")
        problems = [
            _turn_error(cand.get("turn"), roles=roles),
            _reply_error(cand.get("text"), "text"),
            _choice_error(cand.get("source"), CANDIDATE_SOURCES, "source"),
            None if _text(cand.get("model"), limit=200, required=False) else "model: string or null",
        ]
        errors += [f"{where}.{p}" for p in problems if p]
        if isinstance(key, str) and key not in keys:
            keys[key] = cand.get("turn")
    return keys, errors


def _pairs_errors(pairs: Any, *, roles: list[str], keys: dict[str, int]) -> list[str]:
    if not isinstance(pairs, list):
        return ["pairs: must be a list"]
    errors, seen = [], set()
    for i, pair in enumerate(pairs):
        where = f"pairs[{i}]"
        if not isinstance(pair, dict):
            errors.append(f"{where}: must be an object")
            continue
        turn_problem = _turn_error(pair.get("turn"), roles=roles)
        if turn_problem:
            errors.append(f"{where}.{turn_problem}")
        for side in ("chosen", "rejected"):
            key = pair.get(side)
            if not isinstance(key, str) or key not in keys:
                errors.append(f"{where}.{side}: {key!r} is not a candidate key of this dialogue")
            elif not turn_problem and keys[key] != pair["turn"]:
                errors.append(f"{where}.{side}: candidate {key!r} answers turn {keys[key]}, not {pair['turn']}")
        if pair.get("chosen") == pair.get("rejected"):
            errors.append(f"{where}: chosen and rejected must differ")
        errors += [f"{where}.{p}" for p in _pair_field_errors(pair)]
        # repr: any JSON value (a list where a string belongs is reported above, and must not crash here)
        identity = repr([pair.get(k) for k in ("chosen", "rejected", "provenance", "annotator")])
        if identity in seen:
            errors.append(f"{where}: the same pair appears twice")
        seen.add(identity)
    return errors


def _pair_field_errors(pair: dict) -> list[str]:
    errors = []
    errors += filter(None, [_choice_error(pair.get("strength", "clear"), STRENGTHS, "strength")])
    errors += filter(None, [_choice_error(pair.get("provenance"), PROVENANCES, "provenance")])
    codes = pair.get("reason_codes", [])
    if not isinstance(codes, list) or not all(_text(c, limit=50) for c in codes):
        errors.append("reason_codes: must be a list of short strings")
    if not _text(pair.get("annotator"), limit=150, required=False):
        errors.append("annotator: username or null")
    note_error = text_error(pair.get("note", ""), field="note", max_len=MAX_NOTE_CHARS)
    if note_error:
        errors.append(note_error)
    agreement = pair.get("agreement")
    if agreement is not None and not (
        isinstance(agreement, int | float) and not isinstance(agreement, bool) and 0 <= agreement <= 1
    ):
        errors.append("agreement: must be a number from 0 to 1, or null")
    if not isinstance(pair.get("reviewed", False), bool):
        errors.append("reviewed: must be true or false")
    return errors


def _bad_cases_errors(bad_cases: Any, *, roles: list[str], ctx: ImportContext) -> list[str]:
    if not isinstance(bad_cases, list):
        return ["bad_cases: must be a list"]
    errors = []
    for i, bad in enumerate(bad_cases):
        if not isinstance(bad, dict):
            errors.append(f"bad_cases[{i}]: must be an object")
            continue
        clause = bad.get("clause")
        problems = [
            _turn_error(bad.get("turn"), roles=roles),
            _reply_error(bad.get("model_reply"), "model_reply"),
            _reply_error(bad.get("gold_reply"), "gold_reply", required=False),
            _choice_error(bad.get("category"), BAD_CASE_CATEGORIES, "category"),
            _choice_error(bad.get("severity", "major"), SEVERITIES, "severity"),
            None
            if clause is None or (isinstance(clause, str) and clause in ctx.clause_codes)
            else f"clause: {clause!r} is not a clause of the SOP",
        ]
        errors += [f"bad_cases[{i}].{p}" for p in problems if p]
    return errors


def _excellent_errors(turns: Any, *, roles: list[str]) -> list[str]:
    if not isinstance(turns, list):
        return ["excellent_turns: must be a list"]
    errors = []
    for i, turn in enumerate(turns):
        if not _is_int(turn) or not 0 <= turn < len(roles) or roles[turn] != "agent":
            errors.append(f"excellent_turns[{i}]: {turn!r} is not the index of an agent message")
    if len(set(map(str, turns))) != len(turns):
        errors.append("excellent_turns: duplicate turns")
    return errors
