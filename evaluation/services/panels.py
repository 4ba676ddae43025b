"""Blind panels: serve each evaluator the next item with the systems' responses shuffled behind labels,
and record their judgments. The label → system map lives only in ``PanelAssignment.order``."""

from __future__ import annotations

import random
import string

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from engine.vocab import FIX_STATUSES, SKILLS
from evaluation.models import EvalItem, EvalSet, Judgment, PanelAssignment, PanelMember, Response
from kernel.errors import ApplicationError

EXPERTS_PER_ITEM = 3  # the paper's task, linguistics and CS experts
ERR_NO_EXPERTISE = "Choose your expertise (task, linguistics or CS) before rating."
ERR_SUBMITTED = "You have already judged this item."
ERR_LABELS = "Judge every response: expected labels {}."
ERR_RATING = "Response {}: the rating must be a whole number from 1 to 5."
ERR_FIX_STATUS = "Response {}: choose a fix status (" + ", ".join(FIX_STATUSES) + ")."
ERR_TURNS = "Response {}: excellent turns must be evaluated turns of this dialogue."

_shuffle = random.SystemRandom().shuffle  # unpredictable order: a rater cannot infer positions


def panel_member_set(*, user, expertise: str) -> PanelMember:
    member, _ = PanelMember.objects.update_or_create(user=user, defaults={"expertise": expertise})
    member.full_clean()
    return member


def labels_for(order: list[int]) -> list[tuple[str, int]]:
    """``[("A", system_id), ("B", ...)]`` in the rater's stored order.

    >>> labels_for([7, 3])
    [('A', 7), ('B', 3)]
    """
    return list(zip(string.ascii_uppercase, order, strict=False))


def _open_items(user, expertise: str):
    """Items of frozen sets with responses, still short of raters, not yet served to this user or lens."""
    return (
        EvalItem.objects.filter(eval_set__frozen_at__isnull=False, dialogue__isnull=False, responses__isnull=False)
        .exclude(assignments__rater=user)
        .exclude(assignments__expertise=expertise)
        .annotate(n_assigned=Count("assignments", distinct=True))
        .filter(n_assigned__lt=EXPERTS_PER_ITEM)
        .order_by("eval_set__name", "eval_set__version", "position", "id")
        .distinct()
    )


def panel_assignment_next(*, user, eval_set: EvalSet | None = None) -> PanelAssignment | None:
    """The rater's unfinished assignment, else a new one on the next open item (None when all done)."""
    member = PanelMember.objects.filter(user=user).first()
    if member is None:
        raise ApplicationError(ERR_NO_EXPERTISE)
    pending = PanelAssignment.objects.filter(rater=user, submitted_at__isnull=True)
    if eval_set is not None:
        pending = pending.filter(item__eval_set=eval_set)
    if assignment := pending.first():
        return assignment
    for _ in range(3):  # two raters may race for the same item's lens; the loser takes the next item
        items = _open_items(user, member.expertise)
        item = (items.filter(eval_set=eval_set) if eval_set else items).first()
        if item is None:
            return None
        order = sorted(set(Response.objects.filter(item=item).values_list("system_id", flat=True)))
        _shuffle(order)
        try:
            with transaction.atomic():
                return PanelAssignment.objects.create(item=item, rater=user, expertise=member.expertise, order=order)
        except IntegrityError:
            continue
    return None


def panel_assignment_refresh(*, assignment: PanelAssignment) -> PanelAssignment:
    """An unsubmitted assignment made before more systems were run on its item gets them too: each new
    system is inserted at a random position of the stored order (the labels already seen move, but the
    rater has answered nothing yet), so that the rater rates every system the item has replies from."""
    if assignment.submitted_at is not None:
        return assignment
    have = set(Response.objects.filter(item_id=assignment.item_id).values_list("system_id", flat=True))
    new = sorted(have - set(assignment.order))
    if not new:
        return assignment
    with transaction.atomic():
        fresh = PanelAssignment.objects.select_for_update().get(pk=assignment.pk)
        if fresh.submitted_at is not None:
            return fresh
        order = list(fresh.order)
        for system_id in new:
            if system_id not in order:
                order.insert(random.SystemRandom().randint(0, len(order)), system_id)
        fresh.order = order
        fresh.save(update_fields=["order"])
    return fresh


def _clean_answer(label: str, answer: dict, *, kind: str, turns: list[int]) -> dict:
    skills = {s: bool((answer.get("skills") or {}).get(s)) for s in SKILLS}
    excellent = sorted(set(answer.get("excellent_turns") or []))
    if any(t not in turns for t in excellent):
        raise ApplicationError(ERR_TURNS.format(label))
    if kind == EvalSet.Kind.ONLINE:
        rating = answer.get("rating")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ApplicationError(ERR_RATING.format(label))
        return {"rating": rating, "excellent_turns": excellent, "skills": skills}
    if answer.get("fix_status") not in FIX_STATUSES:
        raise ApplicationError(ERR_FIX_STATUS.format(label))
    return {"fix_status": answer["fix_status"], "skills": skills}


@transaction.atomic
def panel_judgments_submit(*, assignment: PanelAssignment, answers: dict[str, dict]) -> list[Judgment]:
    """Record one judgment per label (all or none). ``answers`` maps label → rating/excellent/skills or
    fix status/skills."""
    assignment = PanelAssignment.objects.select_for_update().select_related("item__eval_set").get(pk=assignment.pk)
    if assignment.submitted_at is not None:
        raise ApplicationError(ERR_SUBMITTED)
    labels = labels_for(assignment.order)
    if set(answers) != {label for label, _ in labels}:
        raise ApplicationError(ERR_LABELS.format(", ".join(label for label, _ in labels)))
    item = assignment.item
    cleaned = {
        label: _clean_answer(label, answers[label], kind=item.eval_set.kind, turns=item.turns) for label, _ in labels
    }
    rater = assignment.rater.get_username()
    if Judgment.objects.filter(item=item, rater=rater, consensus=False).exists():
        raise ApplicationError(ERR_SUBMITTED)
    judgments = []
    for label, system_id in labels:
        judgment = Judgment(
            item=item,
            system_id=system_id,
            rater=rater,
            user=assignment.rater,
            expertise=assignment.expertise,
            source=Judgment.Source.PANEL,
            **cleaned[label],
        )
        judgment.full_clean()
        judgment.save()
        judgments.append(judgment)
    assignment.submitted_at = timezone.now()
    assignment.save(update_fields=["submitted_at"])
    return judgments


def panel_progress(*, user) -> dict:
    """How many items this rater has done and how many are still open to their lens."""
    member = PanelMember.objects.filter(user=user).first()
    done = PanelAssignment.objects.filter(rater=user, submitted_at__isnull=False).count()
    open_items = _open_items(user, member.expertise).count() if member else 0
    in_progress = PanelAssignment.objects.filter(rater=user, submitted_at__isnull=True).count()
    return {"done": done, "open": open_items + in_progress, "expertise": member.expertise if member else None}
