"""The negotiation task data (a *case*): one schema shared by the web app, the exports and the engine.

A case, as a plain dict::

    {
      "hotel": {"name": "Harbour View Hotel", "type": "business", "city": "Shanghai"},
      "tickets": [{"id": "T1", "room_type": "Deluxe King", "current_price": 780.0, "net_price": 663.0,
                   "target_price": 690.0, "currency": "CNY",
                   "competitors": [{"name": "Riverside Inn", "price": 699.0}]}],
      "benefits": ["homepage exposure for 7 days"],
      "language": "en"
    }

Messages are ``{"role": "agent"|"hotel"|"system", "content": str, "stage": str|None}``: the agent is
our BD associate (the model), the hotel is the other side.
"""

from __future__ import annotations

import math
from typing import Any

from engine.vocab import HOTEL_TYPES, LANGUAGES
from engine.vocab import MESSAGE_ROLES as ROLES

MAX_TICKETS = 3
MAX_MESSAGE_CHARS = 8000


class TaskError(ValueError):
    """A case or message that breaks the schema; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _is_price(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def task_errors(task: Any) -> list[str]:
    """Every schema problem in ``task`` (empty when valid).

    >>> task_errors({"hotel": {"name": "H", "type": "resort"}, "tickets": [], "language": "en"})
    ['tickets: at least one ticket is required']
    """
    if not isinstance(task, dict):
        return ["case: must be an object"]
    errors: list[str] = []
    hotel = task.get("hotel")
    if not isinstance(hotel, dict) or not isinstance(hotel.get("name"), str) or not hotel.get("name", "").strip():
        errors.append("hotel.name: required string")
    elif hotel.get("type") not in HOTEL_TYPES:
        errors.append(f"hotel.type: must be one of {', '.join(HOTEL_TYPES)}")
    if task.get("language", "en") not in LANGUAGES:
        errors.append(f"language: must be one of {', '.join(LANGUAGES)}")
    benefits = task.get("benefits", [])
    if not isinstance(benefits, list) or not all(isinstance(b, str) for b in benefits):
        errors.append("benefits: must be a list of strings")
    tickets = task.get("tickets")
    if not isinstance(tickets, list) or not tickets:
        errors.append("tickets: at least one ticket is required")
        return errors
    if len(tickets) > MAX_TICKETS:
        errors.append(f"tickets: at most {MAX_TICKETS}")
    for i, ticket in enumerate(tickets):
        errors += [f"tickets[{i}].{e}" for e in _ticket_errors(ticket)]
    return errors


def _ticket_errors(ticket: Any) -> list[str]:
    if not isinstance(ticket, dict):
        return ["must be an object"]
    errors = []
    if not isinstance(ticket.get("room_type"), str) or not ticket["room_type"].strip():
        errors.append("room_type: required string")
    for field in ("current_price", "net_price", "target_price"):
        if not _is_price(ticket.get(field)):
            errors.append(f"{field}: must be a positive number")
    if not errors:
        if ticket["target_price"] >= ticket["current_price"]:
            errors.append("target_price: must be below current_price")
        if ticket["net_price"] >= ticket["current_price"]:
            errors.append("net_price: must be below current_price")
    if not isinstance(ticket.get("currency", "CNY"), str):
        errors.append("currency: must be a string")
    competitors = ticket.get("competitors", [])
    if not isinstance(competitors, list):
        errors.append("competitors: must be a list")
    else:
        for j, comp in enumerate(competitors):
            if not isinstance(comp, dict) or not isinstance(comp.get("name"), str) or not _is_price(comp.get("price")):
                errors.append(f"competitors[{j}]: needs a name and a positive price")
    return errors


def message_errors(message: Any) -> list[str]:
    if not isinstance(message, dict):
        return ["must be an object"]
    errors = []
    if message.get("role") not in ROLES:
        errors.append(f"role: must be one of {', '.join(ROLES)} (got {message.get('role')!r})")
    content = message.get("content")
    if not isinstance(content, str):
        errors.append("content: must be a string")
    elif len(content) > MAX_MESSAGE_CHARS:
        errors.append(f"content: {len(content)} characters, the limit is {MAX_MESSAGE_CHARS}")
    stage = message.get("stage")
    if stage is not None and not isinstance(stage, str):
        errors.append("stage: must be a string or null")
    return errors


def validate_task(task: Any) -> dict:
    errors = task_errors(task)
    if errors:
        raise TaskError(errors)
    return task
