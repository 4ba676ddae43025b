"""Pieces more than one task kind uses: one item per agent turn, and 1–5 scores checked by name."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from annotation.kinds.base import ItemRow
from annotation.models import Message
from kernel.errors import ApplicationError

SCALE = ("1", "2", "3", "4", "5")
BAD_SCORE = "Give every question a score from 1 to 5 ({name} is missing or out of range)."
NOTE_MAX = 2000


def agent_turn_items(dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
    """One item per agent turn of the dialogues (of ``stage`` when given), in dialogue and turn order."""
    turns = Message.objects.filter(dialogue_id__in=dialogue_ids, role=Message.Role.AGENT)
    if stage:
        turns = turns.filter(stage=stage)
    for dialogue_id, index in turns.order_by("dialogue_id", "index").values_list("dialogue_id", "index"):
        yield dialogue_id, index, None, None


def clean_scores(*, names: Iterable[str], data: dict) -> dict[str, int]:
    """``{name: 1..5}`` for every name, or ``ApplicationError`` naming the first missing or out of range."""
    scores = {}
    for name in names:
        value = str(data.get(name, ""))
        if value not in SCALE:
            raise ApplicationError(BAD_SCORE.format(name=name))
        scores[name] = int(value)
    return scores
