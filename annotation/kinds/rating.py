"""Dialogue rating: one item per dialogue (at its last message), rated 1–5 as a whole."""

from __future__ import annotations

from collections.abc import Iterator

from annotation.kinds.base import ItemRow
from annotation.kinds.scores import ScoreKind
from annotation.models import Message


class Rating(ScoreKind):
    name = "rating"
    label = "Dialogue rating"
    items_help = "one item per dialogue"

    def questions(self, *, lens: str) -> dict[str, str]:
        return {"rating": "Dialogue rating"}

    def items(self, dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
        last: dict[int, int] = {}
        rows = Message.objects.filter(dialogue_id__in=dialogue_ids).values_list("dialogue_id", "index")
        for dialogue_id, index in rows:
            last[dialogue_id] = max(index, last.get(dialogue_id, -1))
        for dialogue_id, index in sorted(last.items()):
            yield dialogue_id, index, None, None


KIND = Rating()
