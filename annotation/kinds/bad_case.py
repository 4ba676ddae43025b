"""Bad case at a turn: the editor starts from the model's reply; the annotator writes the gold reply and
names the category, the SOP clause it broke and the severity.

The answer creates the ``BadCase`` (and its gold reply as a human candidate, ``bad_case_create``). A
reviewer's accept or fix moves the item's bad cases to *reviewed*; a fix is made in the bad-case editor,
so the decision takes no input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from annotation.kinds.base import Hint, ItemRow, Key, TaskKind
from annotation.kinds.common import agent_turn_items
from annotation.models import AnnotationItem, Answer, Assignment, BadCase, Candidate, GoldDecision, Message
from annotation.services.bad_cases import bad_case_create, bad_case_transition
from engine.vocab import SEVERITY_RANK
from kernel.models import AuditEvent

# "This reply is fine": the answer records that nothing is wrong and makes no bad case. Its category in
# the agreement values is this word, so a "fine" against a category is a disagreement sent to review.
NOTHING_WRONG = "nothing_wrong"


class BadCaseKind(TaskKind):
    name = "bad_case"
    label = "Bad case at a turn"
    items_help = "every model candidate, or every agent turn (of the chosen stage) when the dialogues have none"
    template = "annotation/kinds/bad_case.html"
    keys = (Key("n", "check", "verdict", NOTHING_WRONG),)
    hints = (
        Hint(("N",), "nothing wrong (then Enter)"),
        Hint(("Ctrl", "Enter"), "submit from the editor", sep="+"),
        Hint(("Esc",), "leave the editor"),
    )
    levels = {"category": "nominal", "severity": "ordinal"}

    def items(self, dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
        model_candidates = Candidate.objects.filter(dialogue_id__in=dialogue_ids, source=Candidate.Source.MODEL)
        if not model_candidates.exists():
            yield from agent_turn_items(dialogue_ids, stage=stage)
            return
        for c in model_candidates.order_by("dialogue_id", "turn", "id"):
            yield c.dialogue_id, c.turn, c.pk, None

    def answer(self, *, answer: Answer, assignment: Assignment, data: dict, actor) -> list[AuditEvent]:
        item = assignment.item
        if data.get("verdict") == NOTHING_WRONG:
            answer.scores = {"category": NOTHING_WRONG, "severity": 0}
            return []
        answer.bad_case = bad_case_create(  # audited by the bad-case service itself
            dialogue=item.dialogue,
            turn=item.turn,
            model_reply=model_reply_at(item),
            data=data,
            actor=actor,
            model_version=item.candidate_a.model_version if item.candidate_a_id else None,
        )
        answer.scores = {"category": answer.bad_case.category, "severity": SEVERITY_RANK[answer.bad_case.severity]}
        return []

    def values(self, answer: Answer) -> dict[str, object]:
        return dict(answer.scores)  # {"category": ..., "severity": rank}

    def majority(self, answers: Iterable[Answer]) -> tuple[str, dict]:
        answers = list(answers)
        names = sorted({name for a in answers for name in a.scores})
        return "", {n: Counter(a.scores[n] for a in answers).most_common(1)[0][0] for n in names}

    def clean_fix(self, *, item: AnnotationItem, choice: str, scores: dict) -> tuple[str, dict]:
        return "", {}  # fixed in the bad-case editor; the decision records that it was fixed

    def apply_gold(self, *, item: AnnotationItem, gold: GoldDecision, reviewer) -> None:
        if gold.decision == GoldDecision.Decision.REJECT:
            return
        for bad_case in BadCase.objects.filter(answers__item=item, status=BadCase.Status.GOLD_WRITTEN):
            bad_case_transition(bad_case=bad_case, to=BadCase.Status.REVIEWED, actor=reviewer, note=gold.reason)

    def task_context(self, *, item: AnnotationItem, lens: str) -> dict:
        return {
            "model_reply": model_reply_at(item),
            "categories": BadCase.Category.choices,
            "severities": BadCase.Severity.choices,
        }


def model_reply_at(item: AnnotationItem) -> str:
    """The reply under judgement: the item's model candidate, else the dialogue's message at the turn."""
    if item.candidate_a_id:
        return item.candidate_a.text
    message = Message.objects.filter(dialogue_id=item.dialogue_id, index=item.turn).first()
    return message.content if message else ""


KIND = BadCaseKind()
