"""What a task kind is: the one interface the services, views, templates and the turn view's keyboard use.

A kind is a stateless object (one instance per kind, ``KIND`` in its module). Its methods run inside the
services' transactions; ``answer`` and ``apply_gold`` may write the derived rows (preference pairs, bad
cases) and return or record their audit events, everything else only reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from annotation.models import AnnotationItem, Answer, Assignment, GoldDecision
    from kernel.models import AuditEvent

# (dialogue id, turn, candidate A id, candidate B id): one item of a queue.
ItemRow = tuple[int, int, int | None, int | None]


@dataclass(frozen=True)
class Key:
    """A shortcut of the turn view: pressing ``key`` does ``do`` (read by ``annotation/keys.js``).

    ``check`` ticks the input ``name`` with ``value``; ``score`` answers the current 1–5 question with
    ``value`` and moves to the next; ``turn`` moves ``value`` turns through the dialogue; ``guidelines``
    shows or hides them; ``skip`` gives the task back and takes the next; ``submit`` submits the answer.
    """

    key: str
    do: str
    name: str = ""
    value: str = ""


@dataclass(frozen=True)
class Hint:
    """One entry of the on-screen shortcut legend: ``keys`` joined by ``sep``, then what they do."""

    keys: tuple[str, ...]
    does: str
    sep: str = "/"


# Every kind's turn view has these.
COMMON_KEYS = (
    Key("j", "turn", value="1"),
    Key("k", "turn", value="-1"),
    Key("g", "guidelines"),
    Key("s", "skip"),
    Key("enter", "submit"),
)
COMMON_HINTS = (
    Hint(("J", "K"), "next/previous turn"),
    Hint(("G",), "guidelines"),
    Hint(("S",), "skip"),
    Hint(("Enter",), "submit"),
)


class TaskKind:
    """One kind of annotation task. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]  # stored in ``AnnotationQueue.kind``
    label: ClassVar[str]
    items_help: ClassVar[str]  # which items a queue of this kind holds, in words
    template: ClassVar[str]  # the answer panel of the turn view (inside the answer form)
    review_template: ClassVar[str] = ""  # the fix inputs of the review page ("" = a fix takes no input)
    compares_candidates: ClassVar[bool] = False  # items hold two candidates (position bias, branch items)
    keys: ClassVar[tuple[Key, ...]] = ()
    hints: ClassVar[tuple[Hint, ...]] = ()
    levels: ClassVar[dict[str, str]] = {}  # question → Krippendorff level; unlisted questions are ordinal

    # -- the questions and the queue ------------------------------------------------------------------------
    def questions(self, *, lens: str) -> dict[str, str]:
        """The 1–5 questions an annotator of ``lens`` answers (name → label); none for other kinds."""
        return {}

    def level(self, question: str) -> str:
        return self.levels.get(question, "ordinal")

    def items(self, dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
        """Every question a queue of this kind asks about the dialogues (``stage``: only turns of it)."""
        raise NotImplementedError

    # -- answering ------------------------------------------------------------------------------------------
    def answer(self, *, answer: Answer, assignment: Assignment, data: dict, actor) -> list[AuditEvent]:
        """Validate the posted ``data`` (raising ``ApplicationError`` before writing anything) and fill
        ``answer``; return the audit events of rows written on the way, to be recorded with the answer's."""
        raise NotImplementedError

    def values(self, answer: Answer) -> dict[str, object]:
        """The answer as ``{question: value}``, the values agreement is computed on (side-independent)."""
        raise NotImplementedError

    # -- changing an earlier answer -------------------------------------------------------------------------
    def form_values(self, *, answer: Answer, assignment: Assignment) -> dict:
        """The answer as its panel posts it (the inverse of ``answer``'s cleaning), to show it again."""
        return {"note": answer.note}

    def change_refusal(self, answer: Answer) -> str:
        """Why the rows this answer made can no longer change, in words ("" when they can)."""
        return ""

    def withdraw(self, *, answer: Answer, actor) -> list[AuditEvent]:
        """Undo the rows ``answer`` made, before it is answered again; return their audit events."""
        return []

    # -- review ---------------------------------------------------------------------------------------------
    def majority(self, answers: Iterable[Answer]) -> tuple[str, dict]:
        """``(choice, scores)`` a reviewer's *accept* stores for these answers."""
        raise NotImplementedError

    def clean_fix(self, *, item: AnnotationItem, choice: str, scores: dict) -> tuple[str, dict]:
        """``(choice, scores)`` of a reviewer's *fix*, checked (``ApplicationError`` when incomplete)."""
        raise NotImplementedError

    def apply_gold(self, *, item: AnnotationItem, gold: GoldDecision, reviewer) -> None:
        """What a gold decision does to the rows the answers made (nothing by default)."""

    # -- pages ----------------------------------------------------------------------------------------------
    def task_context(self, *, item: AnnotationItem, lens: str) -> dict:
        """What the answer panel needs beyond the dialogue, the case and the candidates."""
        return {}

    def review_context(self, *, item: AnnotationItem) -> dict:
        """What the review page's fix inputs need."""
        return {}

    def keymap(self) -> dict[str, dict[str, str]]:
        """The turn view's keys, common ones included, as JSON for ``annotation/keys.js``."""
        bindings = (*COMMON_KEYS, *self.keys)
        return {key.key: {k: v for k, v in asdict(key).items() if v and k != "key"} for key in bindings}

    def legend(self) -> tuple[Hint, ...]:
        return (*self.hints, *COMMON_HINTS)
