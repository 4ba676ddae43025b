"""Submitting an answer: guarded (the task is held by the submitting user and its reservation is live),
validated before anything is written, and all-or-nothing.

Pairwise answers become ``PreferencePair`` rows at once, with provenance from the annotator's lens;
``agreement`` is filled when the item's last answer arrives, and a reviewer's gold decision later marks
them reviewed or removes them (see ``review.py``). Ties (equal / both bad) make no pair.
"""

import random
from collections import Counter

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from annotation.models import AnnotationItem, Answer, Assignment, Message, PreferencePair, TaskKind
from annotation.models.labels import Provenance
from annotation.services.bad_cases import bad_case_create
from annotation.services.questions import (
    REASON_CODES,
    RUBRIC_DIMENSIONS,
    SEVERITY_RANK,
    STRENGTH_KEYS,
    answer_values,
    question_level,
)
from kernel.audit import audit_event, audit_record_many, audit_snapshot
from kernel.errors import ApplicationError
from kernel.models import AuditEvent

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
        raise ApplicationError(BAD_SIDE)
    reasons = data.get("reasons") or []
    for code in reasons:
        if code not in REASON_CODES:
            raise ApplicationError(BAD_REASON.format(code=code))
    note = data.get("note") or ""
    if len(note) > 2000:
        raise ApplicationError(NOTE_TOO_LONG)
    strength = ""
    if side in SIDES:
        if data.get("strength") not in STRENGTH_KEYS:
            raise ApplicationError(STRENGTH_REQUIRED)
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
            raise ApplicationError(BAD_SCORE.format(name=name))
        scores[name] = int(value)
    return scores


def model_reply_at(item: AnnotationItem) -> str:
    if item.candidate_a_id:
        return item.candidate_a.text
    message = Message.objects.filter(dialogue_id=item.dialogue_id, index=item.turn).first()
    return message.content if message else ""


def _hold(*, assignment_id: int, user, now) -> Assignment:
    """The assignment, locked (item first, then assignment: the selector's lock order), or a refusal.

    Two statements: the item locked through a sub-select of the assignment's item (FOR UPDATE does not
    reach into the sub-select), then the assignment locked and loaded with what the answer needs.
    """
    item_of = Assignment.objects.filter(pk=assignment_id).values("item_id")[:1]
    if not AnnotationItem.objects.select_for_update().filter(pk=Subquery(item_of)).values_list("pk").exists():
        raise ApplicationError(NOT_HELD, status=404)
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        # Only the item and queue rows: the rest is needed by id (a 7-table join cost 2 ms to plan).
        .select_related("item", "queue")
        .get(pk=assignment_id)
    )
    if assignment.user_id != user.pk:
        raise ApplicationError(NOT_YOURS, status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise ApplicationError(ALREADY_SUBMITTED, status=409)
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= now:
        raise ApplicationError(EXPIRED, status=409)
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
        guideline_id=queue.guideline_id,
        sop_id=queue.sop_id or item.dialogue.sop_id,
    )
    events = []  # written together at the end, in this order: pair, answer, item
    if queue.kind == TaskKind.PAIRWISE:
        for name, value in _clean_pairwise(assignment=assignment, data=data).items():
            setattr(answer, name, value)
        answer.preference_pair = _pair_for(answer=answer, item=item)
        if answer.preference_pair is not None:
            pair = answer.preference_pair
            events.append(audit_event(actor=user, action="create", instance=pair, after=audit_snapshot(pair)))
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
    events.append(audit_event(actor=user, action="create", instance=answer, after=audit_snapshot(answer)))
    item.answers_count += 1
    if item.answers_count >= item.overlap:
        item.queue = queue
        # The first answer of a one-slot item is the only one: no need to read it back.
        answers = [answer] if item.answers_count == 1 else list(item.answers.all())
        events.append(_finalise(item=item, answers=answers))
    else:
        item.save(update_fields=["answers_count"])
    audit_record_many(events)
    return answer


def _pair_for(*, answer: Answer, item: AnnotationItem) -> PreferencePair | None:
    if answer.choice not in (Answer.Choice.A, Answer.Choice.B):
        return None
    chosen, rejected = item.candidate_a_id, item.candidate_b_id
    if answer.choice == Answer.Choice.B:
        chosen, rejected = rejected, chosen
    pair = PreferencePair(
        dialogue_id=item.dialogue_id,
        turn=item.turn,
        chosen_id=chosen,
        rejected_id=rejected,
        strength=answer.strength,
        reason_codes=answer.reason_codes,
        note=answer.note,
        provenance=PROVENANCE[answer.lens],
        annotator=answer.user,
        guideline_id=answer.guideline_id,
        sop_id=answer.sop_id,
    )
    pair.full_clean(exclude=PAIR_RELATIONS, validate_unique=False)
    pair.save()
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


def _finalise(*, item: AnnotationItem, answers: list[Answer]) -> AuditEvent:
    """Every slot answered: store the answer count and agreement, route disagreements (and a seeded
    sample) to review, copy the agreement onto the answers' pairs; returns the item's audit event."""
    agreement, disagree = item_agreement(
        values=[answer_values(a, kind=item.queue.kind) for a in answers], kind=item.queue.kind
    )
    sampled = random.Random(item.pk).random() < item.queue.review_sample_rate  # noqa: S311 - seeded, reproducible
    before = {"status": item.status, "agreement": item.agreement}
    item.agreement = agreement
    item.status = AnnotationItem.Status.IN_REVIEW if disagree or sampled else AnnotationItem.Status.DONE
    item.save(update_fields=["answers_count", "agreement", "status"])
    pairs = [a.preference_pair_id for a in answers if a.preference_pair_id]
    if pairs:
        PreferencePair.objects.filter(pk__in=pairs).update(agreement=agreement)
    return audit_event(
        actor=None,
        action="change",
        instance=item,
        before=before,
        after={"status": item.status, "agreement": agreement, "sampled": sampled and not disagree},
    )
