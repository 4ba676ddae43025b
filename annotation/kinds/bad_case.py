"""Bad case at a turn: the editor starts from the model's reply; the annotator writes the gold reply and
names the category, the SOP clause it broke and the severity.

The answer creates the ``BadCase`` (and its gold reply as a human candidate, ``bad_case_create``). A
reviewer's accept or fix moves the item's bad cases to *reviewed*; a fix is made in the bad-case editor,
so the decision takes no input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from django.db.models import Q

from annotation.kinds.base import Hint, ItemRow, Key, TaskKind
from annotation.kinds.common import agent_turn_items
from annotation.models import (
    AnnotationItem,
    Answer,
    Assignment,
    BadCase,
    Candidate,
    GoldDecision,
    Message,
    PreferencePair,
)
from annotation.services.bad_cases import bad_case_create, bad_case_transition
from engine.vocab import SEVERITY_RANK
from kernel.audit import audit_event, audit_snapshot
from kernel.errors import ApplicationError
from kernel.models import AuditEvent

# "This reply is fine": the answer records that nothing is wrong and makes no bad case. Its category in
# the agreement values is this word, so a "fine" against a category is a disagreement sent to review.
NOTHING_WRONG = "nothing_wrong"
BAD_CASE_IN_SNAPSHOT = "The bad case this answer made is already in a dataset snapshot, so the answer stays as given."
BAD_CASE_MOVED = (
    "The bad case this answer made is {status} now; change its gold reply in the bad-case editor, or ask a reviewer."
)
GOLD_IN_USE = (
    "The gold reply this answer wrote is already asked about in another queue or pair, so the answer stays as "
    "given; change the gold reply in the bad-case editor instead."
)


def _candidate_in_use(candidate: Candidate) -> bool:
    return (
        AnnotationItem.objects.filter(Q(candidate_a=candidate) | Q(candidate_b=candidate)).exists()
        or PreferencePair.objects.filter(Q(chosen=candidate) | Q(rejected=candidate)).exists()
    )


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

    def form_values(self, *, answer: Answer, assignment: Assignment) -> dict:
        bad_case = answer.bad_case
        if bad_case is None:
            return {"verdict": NOTHING_WRONG}
        return {
            "verdict": "bad",
            "gold_reply": bad_case.gold_reply,
            "category": bad_case.category,
            "clause": bad_case.clause.code if bad_case.clause_id else "",
            "severity": bad_case.severity,
        }

    def change_refusal(self, answer: Answer) -> str:
        bad_case = answer.bad_case
        if bad_case is None:
            return ""
        if bad_case.snapshots.exists():
            return BAD_CASE_IN_SNAPSHOT
        if bad_case.status != BadCase.Status.GOLD_WRITTEN:
            return BAD_CASE_MOVED.format(status=bad_case.get_status_display().lower())
        return ""

    def withdraw(self, *, answer: Answer, actor) -> list[AuditEvent]:
        """The bad case this answer made goes, with its gold reply's candidate (audited); refused when
        that candidate is already asked about elsewhere (an item or a pair holds it)."""
        bad_case = answer.bad_case
        answer.bad_case = None
        if bad_case is None:
            return []
        gold = Candidate.objects.filter(dialogue_id=bad_case.dialogue_id, key=f"gold:{bad_case.pk}").first()
        if gold is not None and _candidate_in_use(gold):
            raise ApplicationError(GOLD_IN_USE, status=409)
        events = [audit_event(actor=actor, action="delete", instance=bad_case, before=audit_snapshot(bad_case))]
        Answer.objects.filter(pk=answer.pk).update(bad_case=None)
        if gold is not None:
            events.append(audit_event(actor=actor, action="delete", instance=gold, before=audit_snapshot(gold)))
            gold.delete()
        bad_case.delete()
        return events

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
