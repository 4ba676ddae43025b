"""Per-turn rubric: every agent turn scored 1–5 on the dimensions of the annotator's lens (language
experts and BD experts answer different questions, and agreement is computed per lens and dimension)."""

from __future__ import annotations

from collections.abc import Iterator

from annotation.kinds.base import ItemRow
from annotation.kinds.common import agent_turn_items
from annotation.kinds.scores import ScoreKind

DIMENSIONS = {
    "language": {"fluency": "Fluency", "tone": "Tone", "clarity": "Clarity", "consistency": "Language consistency"},
    "bd": {
        "sop": "SOP compliance",
        "effectiveness": "Negotiation effectiveness",
        "price_accuracy": "Price accuracy",
        "scope": "Scope understanding",
    },
}


class Rubric(ScoreKind):
    name = "rubric"
    label = "Per-turn rubric"
    items_help = "every agent turn (of the chosen stage)"

    def questions(self, *, lens: str) -> dict[str, str]:
        return DIMENSIONS.get(lens, {})

    def items(self, dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
        return agent_turn_items(dialogue_ids, stage=stage)


KIND = Rubric()
