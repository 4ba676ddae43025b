"""Submitting an answer: guarded (the task is held by the submitting user and its reservation is live),
validated before anything is written, and all-or-nothing.

Pairwise answers become ``PreferencePair`` rows at once, with provenance from the annotator's lens;
``agreement`` is filled when the item's last answer arrives, and a reviewer's gold decision later marks
them reviewed or removes them (see ``review.py``). Ties (equal / both bad) make no pair.
"""

import random
from collections import Counter

from django.db import transaction
from django.utils import timezone

from annotation.models import AnnotationItem, Answer, Assignment, Message, PreferencePair, TaskKind
from annotation.models.labels import Provenance
from annotation.services.audit import audit_record, audit_snapshot
from annotation.services.bad_cases import bad_case_create
from annotation.services.errors import AnnotationError
from annotation.services.questions import (
    REASON_CODES,
    RUBRIC_DIMENSIONS,
    SEVERITY_RANK,
    STRENGTH_KEYS,
    answer_values,
    question_level,
)

NOT_HELD = "You do not hold this task."
NOT_YOURS = "This task is reserved for another annotator."
ALREADY_SUBMITTED = "This task was already submitted."
EXPIRED = "Your reservation of this task expired; ask for the next task."
BAD_SIDE = "Choose A, B, Equal or Both bad."
STRENGTH_REQUIRED = "Choose a strength: 1 slight, 2 clear, 3 strong."
BAD_REASON = "Unknown reason code: {code}."
NOTE_TOO_LONG = "The note is longer than 2000 characters."
BAD_SCORE = "Give every question a score from 1 to 5 ({name} is missing or out of range)."

PROVENANCE = {"language": Provenance.LANGUAGE_EXPERT, "bd": Provenance.BD_EXPERT}
SIDES = {"A": 0, "B": 1}
ANSWER_RELATIONS = ["assignment", "item", "user", "guideline", "sop", "shown_left", "preference_pair", "bad_case"]
PAIR_RELATIONS = ["dialogue", "chosen", "rejected", "annotator", "guideline", "sop"]


def _clean_pairwise(*, assignment: Assignment, data: dict) -> dict:
    side = data.get("side")
    if side not in ("A", "B", "equal", "both_bad"):
        raise AnnotationError(BAD_SIDE)
    reasons = data.get("reasons") or []
    for code in reasons:
        if code not in REASON_CODES:
            raise AnnotationError(BAD_REASON.format(code=code))
    note = data.get("note") or ""
    if len(note) > 2000:
        raise AnnotationError(NOTE_TOO_LONG)
    strength = ""
    if side in SIDES:
        if data.get("strength") not in STRENGTH_KEYS:
            raise AnnotationError(STRENGTH_REQUIRED)
        strength = STRENGTH_KEYS[data["strength"]]
        shown = assignment.display_order[SIDES[side]]
        choice = Answer.Choice.A if shown == assignment.item.candidate_a_id else Answer.Choice.B
    else:
        choice = Answer.Choice.EQUAL if side == "equal" else Answer.Choice.BOTH_BAD
    return {
        "choice": choice,
        "strength": strength,
        "reason_codes": list(reasons),
        "note": note,
        "shown_left_id": (assignment.display_order or [None])[0],
    }


def _clean_scores(*, names, data: dict) -> dict[str, int]:
    scores = {}
    for name in names:
        value = str(data.get(name, ""))
        if value not in {"1", "2", "3", "4", "5"}:
            raise AnnotationError(BAD_SCORE.format(name=name))
        scores[name] = int(value)
    return scores


def model_reply_at(item: AnnotationItem) -> str:
    if item.candidate_a_id:
        return item.candidate_a.text
    message = Message.objects.filter(dialogue_id=item.dialogue_id, index=item.turn).first()
    return message.content if message else ""


def _hold(*, assignment_id: int, user, now) -> Assignment:
    """The assignment, locked (item first, then assignment: the selector's lock order), or a refusal."""
    found = Assignment.objects.filter(pk=assignment_id).values_list("item_id", flat=True).first()
    if found is None:
        raise AnnotationError(NOT_HELD, status=404)
    AnnotationItem.objects.select_for_update().get(pk=found)
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item__candidate_a", "item__candidate_b", "item__dialogue", "queue__guideline", "queue__sop")
        .get(pk=assignment_id)
    )
    if assignment.user_id != user.pk:
        raise AnnotationError(NOT_YOURS, status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise AnnotationError(ALREADY_SUBMITTED, status=409)
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= now:
        raise AnnotationError(EXPIRED, status=409)
    return assignment


@transaction.atomic
def answer_submit(*, assignment_id: int, user, data: dict, now=None) -> Answer:
    now = now or timezone.now()
    assignment = _hold(assignment_id=assignment_id, user=user, now=now)
    item, queue = assignment.item, assignment.queue
    answer = Answer(
        assignment=assignment,
        item=item,
        user=user,
        lens=queue.lens,
        guideline=queue.guideline,
        sop=queue.sop or item.dialogue.sop,
    )
    if queue.kind == TaskKind.PAIRWISE:
        for name, value in _clean_pairwise(assignment=assignment, data=data).items():
            setattr(answer, name, value)
        answer.preference_pair = _pair_for(answer=answer, item=item)
    elif queue.kind == TaskKind.RUBRIC:
        answer.scores = _clean_scores(names=RUBRIC_DIMENSIONS[queue.lens], data=data)
        answer.note = (data.get("note") or "")[:2000]
    elif queue.kind == TaskKind.RATING:
        answer.scores = _clean_scores(names=["rating"], data=data)
        answer.note = (data.get("note") or "")[:2000]
    else:
        answer.bad_case = bad_case_create(
            dialogue=item.dialogue,
            turn=item.turn,
            model_reply=model_reply_at(item),
            data=data,
            actor=user,
            model_version=item.candidate_a.model_version if item.candidate_a_id else None,
        )
        answer.scores = {"category": answer.bad_case.category, "severity": SEVERITY_RANK[answer.bad_case.severity]}
    # Related rows were just loaded (or created) here: skip full_clean's one-query-per-foreign-key checks.
    answer.full_clean(exclude=ANSWER_RELATIONS)
    answer.save()
    assignment.status, assignment.submitted_at = Assignment.Status.SUBMITTED, now
    assignment.save(update_fields=["status", "submitted_at"])
    item.answers_count += 1
    item.save(update_fields=["answers_count"])
    if item.answers_count >= item.overlap:
        item.queue = queue
        item_finalise(item=item)
    audit_record(actor=user, action="create", instance=answer, after=audit_snapshot(answer))
    return answer


def _pair_for(*, answer: Answer, item: AnnotationItem) -> PreferencePair | None:
    if answer.choice not in (Answer.Choice.A, Answer.Choice.B):
        return None
    chosen, rejected = (item.candidate_a, item.candidate_b)
    if answer.choice == Answer.Choice.B:
        chosen, rejected = rejected, chosen
    pair = PreferencePair(
        dialogue_id=item.dialogue_id,
        turn=item.turn,
        chosen=chosen,
        rejected=rejected,
        strength=answer.strength,
        reason_codes=answer.reason_codes,
        note=answer.note,
        provenance=PROVENANCE[answer.lens],
        annotator=answer.user,
        guideline=answer.guideline,
        sop=answer.sop,
    )
    pair.full_clean(exclude=PAIR_RELATIONS, validate_unique=False)
    pair.save()
    audit_record(actor=answer.user, action="create", instance=pair, after=audit_snapshot(pair))
    return pair


def item_agreement(*, values: list[dict], kind: str) -> tuple[float, bool]:
    """(mean share of answers equal to the majority per question, whether the raters disagree).

    Nominal questions disagree on any difference; 1–5 scores only when they are two or more apart.
    """
    shares, disagree = [], False
    for question in values[0] if values else []:
        column = [v.get(question) for v in values]
        shares.append(Counter(column).most_common(1)[0][1] / len(column))
        if question_level(question) == "nominal":
            disagree |= len(set(column)) > 1
        else:
            disagree |= max(column) - min(column) >= 2
    return (sum(shares) / len(shares) if shares else 1.0), disagree


def item_finalise(*, item: AnnotationItem) -> AnnotationItem:
    """Every slot answered: store agreement, route disagreements (and a seeded sample) to review."""
    answers = list(item.answers.all())
    agreement, disagree = item_agreement(
        values=[answer_values(a, kind=item.queue.kind) for a in answers], kind=item.queue.kind
    )
    sampled = random.Random(item.pk).random() < item.queue.review_sample_rate  # noqa: S311 - seeded, reproducible
    before = {"status": item.status, "agreement": item.agreement}
    item.agreement = agreement
    item.status = AnnotationItem.Status.IN_REVIEW if disagree or sampled else AnnotationItem.Status.DONE
    item.save(update_fields=["agreement", "status"])
    audit_record(
        actor=None,
        action="change",
        instance=item,
        before=before,
        after={"status": item.status, "agreement": agreement, "sampled": sampled and not disagree},
    )
    PreferencePair.objects.filter(answers__item=item).update(agreement=agreement)
    return item
