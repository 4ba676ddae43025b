"""The kinds that ask 1–5 questions (per-turn rubric, dialogue rating): one answer panel, one key map,
agreement on ordinal scores, the median as the majority, and a fix that gives every score."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median_low

from annotation.kinds.base import Hint, Key, TaskKind
from annotation.kinds.common import NOTE_MAX, SCALE, clean_scores
from annotation.models import AnnotationItem, Answer, Assignment
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.text import clean_text

FIX_SCORES = "A fix needs every score from 1 to 5."


class ScoreKind(TaskKind):
    template = "annotation/kinds/scores.html"
    review_template = "annotation/kinds/scores_fix.html"
    keys = tuple(Key(n, "score", value=n) for n in SCALE)
    hints = (Hint(("1", "5"), "score (then the next question)", sep="–"),)

    def answer(self, *, answer: Answer, assignment: Assignment, data: dict, actor) -> list[AuditEvent]:
        answer.scores = clean_scores(names=self.questions(lens=answer.lens), data=data)
        answer.note = clean_text(data.get("note") or "", field="note", max_len=NOTE_MAX)  # refused, not cut
        return []

    def values(self, answer: Answer) -> dict[str, object]:
        return {key: int(value) for key, value in answer.scores.items()}

    def form_values(self, *, answer: Answer, assignment: Assignment) -> dict:
        return {"note": answer.note, **{name: str(value) for name, value in answer.scores.items()}}

    def majority(self, answers: Iterable[Answer]) -> tuple[str, dict]:
        answers = list(answers)
        names = sorted({name for a in answers for name in a.scores})
        return "", {n: median_low([a.scores[n] for a in answers]) for n in names}

    def clean_fix(self, *, item: AnnotationItem, choice: str, scores: dict) -> tuple[str, dict]:
        names = self.questions(lens=item.queue.lens)
        if any(str(scores.get(n)) not in SCALE for n in names):
            raise ApplicationError(FIX_SCORES)
        return "", {n: int(scores[n]) for n in names}

    def task_context(self, *, item: AnnotationItem, lens: str) -> dict:
        return {"questions": self.questions(lens=lens).items()}

    def review_context(self, *, item: AnnotationItem) -> dict:
        return {"questions": self.questions(lens=item.queue.lens).items()}
