"""The default SOP, guidelines and project of the demo world (docs/domain.md, "The SOP").

Clause texts are terse checklist items on purpose: ``engine.prompting`` renders every clause into the
system message, and the tiny model's context is 1024 tokens. The guideline carries the longer prose.
"""

from __future__ import annotations

import copy

from engine.vocab import SOP_STAGE_CHOICES

# The clauses of each stage of the default SOP (the stages themselves: ``engine.vocab.SOP_STAGE_CHOICES``).
_CLAUSES = {
    "greeting": (
        ("1.1", "Introduce yourself and the platform"),
        ("1.2", "No price yet"),
        ("1.3", "Hotel's language only"),
    ),
    "state_request": (
        ("2.1", "Ask a price per room"),
        ("2.2", "Never say target, work order or ticket"),
        ("2.3", "Selling price, never net"),
        ("2.4", "No reasoning or notes"),
    ),
    "persuade": (
        ("3.1", "Only the given rivals and prices"),
        ("3.2", "Only allowed benefits, no guarantees"),
        ("3.3", "2-4 warm sentences"),
    ),
    "handle_objection": (
        ("4.1", "Answer the actual objection"),
        ("4.2", "Empathy, never pushy"),
    ),
    "continue_chase": (
        ("5.1", "Counter in small steps"),
        ("5.2", "Offer at or below ask: accept at once"),
    ),
    "accept_close": (
        ("6.1", "Confirm room, price, date once"),
        ("6.2", "Thank; say what happens next"),
    ),
    "no_reply_follow_up": (
        ("7.1", "One polite nudge later"),
        ("7.2", "Silence is never a yes"),
    ),
}

DEFAULT_SOP: dict = {
    "name": "OTA price-chase SOP",
    "version": 1,
    "stages": [
        {
            "key": key,
            "name": name,
            "order": order,
            "clauses": [{"code": code, "text": text} for code, text in _CLAUSES[key]],
        }
        for order, (key, name) in enumerate(SOP_STAGE_CHOICES, start=1)
    ],
}

DEFAULT_GUIDELINE: dict = {
    "version": 1,
    "title": "Judging price-chase replies",
    "text": (
        "Judge one agent turn with the whole dialogue and the case in view.\n"
        "Prefer the reply that follows the SOP stage, answers what the hotel said, uses only the case's "
        "figures, asks for a specific price for a specific room, and reads like a polite human in two "
        "to four sentences.\n"
        "Strength: slight = a matter of taste; clear = one real SOP or quality difference; strong = the "
        "rejected reply breaks a hard rule (price confusion, internal terms, silence as agreement, "
        "pushing after an acceptable offer, invented facts).\n"
        "Every bad case cites the SOP clause it breaks."
    ),
}

DEFAULT_PROJECT: dict = {
    "name": "OTA price chase (demo)",
    "description": "BD associates ask partner hotels for better room prices; generated demo data.",
}


def default_sop() -> dict:
    """A fresh copy of the default SOP (callers may edit it)."""
    return copy.deepcopy(DEFAULT_SOP)


def clause_codes(sop: dict) -> set[str]:
    """Every clause code of ``sop``.

    >>> sorted(clause_codes(DEFAULT_SOP))[:3]
    ['1.1', '1.2', '1.3']
    """
    return {clause["code"] for stage in sop.get("stages", []) for clause in stage.get("clauses", [])}
