"""Submitting an answer: guarded (the task is held by the submitting user and its reservation is live),
validated before anything is written, and all-or-nothing.

What the answer holds, and the rows it makes, are the queue's task kind's (``annotation.kinds``): a
pairwise answer becomes a ``PreferencePair`` at once, a bad-case answer a ``BadCase``. ``agreement`` is
filled when the item's last answer arrives, and a reviewer's gold decision later marks derived rows
reviewed or removes them (see ``review.py``).
"""

import random
from collections import Counter

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from annotation.kinds import TaskKind, kind_for
from annotation.models import AnnotationItem, Answer, Assignment, GoldDecision, PreferencePair
from kernel.audit import audit_event, audit_record_many, audit_snapshot
from kernel.errors import ApplicationError
from kernel.models import AuditEvent

NOT_HELD = "You do not hold this task."
NOT_YOURS = "This task is reserved for another annotator."
ALREADY_SUBMITTED = "This task was already submitted."
EXPIRED = "Your reservation of this task expired; ask for the next task."
NO_SUCH_ANSWER = "There is no such answer."

NOT_YOUR_ANSWER = "This answer is another annotator's; only the person who gave it can change it."
IN_REVIEW = (
    "This item is {status} now, so your answer stays as given: tell the reviewer what you would change "
    "(a reviewer's decision is kept apart from the answers)."
)
REVIEW_STATUSES = (AnnotationItem.Status.IN_REVIEW, AnnotationItem.Status.RESOLVED)

ANSWER_RELATIONS = ["assignment", "item", "user", "guideline", "sop", "shown_left", "preference_pair", "bad_case"]


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
    # The kind validates and fills the answer, and writes its pair or bad case: their events come first.
    events = kind_for(queue.kind).answer(answer=answer, assignment=assignment, data=data, actor=user)
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


def answer_change_refusal(answer: Answer) -> str:
    """Why ``answer`` can no longer be changed by its author, in words; "" while it can: until its item
    goes to review (or has a reviewer's decision), or the rows it made are in a dataset snapshot or moved
    on (the task kind's ``change_refusal``)."""
    item = answer.item
    if item.status in REVIEW_STATUSES or GoldDecision.objects.filter(item_id=item.pk).exists():
        status = "resolved by a reviewer" if item.status == AnnotationItem.Status.RESOLVED else "in review"
        return IN_REVIEW.format(status=status)
    return kind_for(item.queue.kind).change_refusal(answer)


@transaction.atomic
def answer_change(*, answer_id: int, user, data: dict) -> Answer:
    """Its author answers an item again: the rows the earlier answer made are undone and the new answer
    makes its own (the task kind's ``withdraw`` then ``answer``), all audited, all or nothing. An item
    whose every slot was already answered has its agreement recomputed (and may go to review now)."""
    item_of = Answer.objects.filter(pk=answer_id).values("item_id")[:1]
    item = (
        AnnotationItem.objects.select_for_update(of=("self",))
        .filter(pk=Subquery(item_of))
        .select_related("queue")
        .first()
    )
    if item is None:
        raise ApplicationError(NO_SUCH_ANSWER, status=404)
    answer = (
        Answer.objects.select_for_update(of=("self",))
        .select_related("assignment", "preference_pair", "bad_case__clause")
        .get(pk=answer_id)
    )
    answer.item = item
    if answer.user_id != user.pk:
        raise ApplicationError(NOT_YOUR_ANSWER, status=403)
    refusal = answer_change_refusal(answer)
    if refusal:
        raise ApplicationError(refusal, status=409)
    kind = kind_for(item.queue.kind)
    before = audit_snapshot(answer)
    events = kind.withdraw(answer=answer, actor=user)
    answer.choice, answer.strength, answer.reason_codes, answer.note, answer.scores = "", "", [], "", {}
    assignment = answer.assignment
    assignment.item, assignment.queue = item, item.queue
    events += kind.answer(answer=answer, assignment=assignment, data=data, actor=user)
    answer.full_clean(exclude=ANSWER_RELATIONS)
    answer.save()
    events.append(
        audit_event(actor=user, action="change", instance=answer, before=before, after=audit_snapshot(answer))
    )
    if item.answers_count >= item.overlap:
        events.append(_finalise(item=item, answers=list(item.answers.all())))
    audit_record_many(events)
    return answer


def item_agreement(*, values: list[dict], kind: TaskKind) -> tuple[float, bool]:
    """(mean share of answers equal to the majority per question, whether the raters disagree).

    Nominal questions disagree on any difference; 1–5 scores only when they are two or more apart.
    """
    shares, disagree = [], False
    for question in values[0] if values else []:
        column = [v.get(question) for v in values]
        shares.append(Counter(column).most_common(1)[0][1] / len(column))
        if kind.level(question) == "nominal":
            disagree |= len(set(column)) > 1
        else:
            disagree |= max(column) - min(column) >= 2
    return (sum(shares) / len(shares) if shares else 1.0), disagree


def _finalise(*, item: AnnotationItem, answers: list[Answer]) -> AuditEvent:
    """Every slot answered: store the answer count and agreement, route disagreements (and a seeded
    sample) to review, copy the agreement onto the answers' pairs; returns the item's audit event."""
    kind = kind_for(item.queue.kind)
    agreement, disagree = item_agreement(values=[kind.values(a) for a in answers], kind=kind)
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
