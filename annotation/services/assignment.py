"""The one next-task selector: reserve an item for a user under a row lock, release expired reservations.

Concurrency: candidates are locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so twenty annotators asking
at once each lock a different item instead of queueing on the first one; the (item, user) unique
constraint is the last line of defence against serving an item twice to one user.
"""

import random
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from annotation.models import AnnotationItem, AnnotationQueue, Assignment
from annotation.services.errors import AnnotationError
from parley.roles import Role, has_role

LENS_ROLES = {"language": Role.LANGUAGE_EXPERT, "bd": Role.BD_EXPERT}
# The expiry sweep is a query of its own: run it at most this often per queue and process (and whenever
# nothing free is found), not on every request. Expired holds only delay others by up to this long.
SWEEP_EVERY_S = 15.0
_last_sweep: dict[int, float] = {}
WRONG_LENS = "This queue is for another expert lens."
QUEUE_CLOSED = "This queue is closed."


def lens_for_user(*, user, queue: AnnotationQueue) -> bool:
    return has_role(user, (LENS_ROLES[queue.lens],))


def assignment_release_expired(*, queue: AnnotationQueue | None = None, now=None) -> int:
    """Expire reservations past their time and give their slots back; returns how many were released."""
    now = now or timezone.now()
    stale = Assignment.objects.filter(status=Assignment.Status.RESERVED, expires_at__lte=now)
    if queue is not None:
        stale = stale.filter(queue=queue)
    released = 0
    for assignment_id, item_id in list(stale.values_list("id", "item_id")[:500]):
        with transaction.atomic():
            item = AnnotationItem.objects.select_for_update().get(pk=item_id)
            changed = Assignment.objects.filter(
                pk=assignment_id, status=Assignment.Status.RESERVED, expires_at__lte=now
            ).update(status=Assignment.Status.EXPIRED)
            if not changed:  # submitted or released by someone else meanwhile
                continue
            item.slots_taken -= 1
            if item.status == AnnotationItem.Status.FULL:
                item.status = AnnotationItem.Status.OPEN
            item.save(update_fields=["slots_taken", "status"])
            released += 1
    return released


def _held(*, user, queue: AnnotationQueue, now) -> Assignment | None:
    return (
        Assignment.objects.filter(queue=queue, user=user, status=Assignment.Status.RESERVED, expires_at__gt=now)
        .select_related("item")
        .first()
    )


def _answered_count(*, user, queue: AnnotationQueue) -> int:
    return Assignment.objects.filter(queue=queue, user=user, status=Assignment.Status.SUBMITTED).count()


def _free_items(*, user, queue: AnnotationQueue) -> QuerySet:
    mine = Assignment.objects.filter(item=OuterRef("pk"), user=user)
    return (
        # OPEN means slots_taken < overlap (kept so under the item lock): one condition, one partial index.
        AnnotationItem.objects.filter(queue=queue, status=AnnotationItem.Status.OPEN)
        .exclude(Exists(mine))
        .order_by("id")
    )


def annotation_task_next(*, user, queue: AnnotationQueue, now=None) -> Assignment | None:
    """The user's current reservation in ``queue``, or a new one on the next free item (None when done).

    Never the same item twice to one user, at most ``per_user_cap`` answers, ``target_overlap`` holders
    per item; the candidate order shown to this user is drawn here and stored on the assignment.
    """
    if not queue.is_active:
        raise AnnotationError(QUEUE_CLOSED, status=409)
    if not lens_for_user(user=user, queue=queue):
        raise AnnotationError(WRONG_LENS, status=403)
    now = now or timezone.now()
    if time.monotonic() - _last_sweep.get(queue.pk, -SWEEP_EVERY_S) >= SWEEP_EVERY_S:
        _sweep(queue=queue, now=now)
    held = _held(user=user, queue=queue, now=now)
    if held is not None:
        return held
    if queue.per_user_cap is not None and _answered_count(user=user, queue=queue) >= queue.per_user_cap:
        return None
    assignment = _reserve(user=user, queue=queue, now=now)
    if assignment is None and _sweep(queue=queue, now=now):
        assignment = _reserve(user=user, queue=queue, now=now)
    return assignment


def _sweep(*, queue: AnnotationQueue, now) -> int:
    _last_sweep[queue.pk] = time.monotonic()
    return assignment_release_expired(queue=queue, now=now)


def _reserve(*, user, queue: AnnotationQueue, now) -> Assignment | None:
    with transaction.atomic():
        item = _free_items(user=user, queue=queue).select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            return None
        order = [c for c in (item.candidate_a_id, item.candidate_b_id) if c is not None]
        random.shuffle(order)
        assignment = Assignment.objects.create(
            item=item,
            queue=queue,
            user=user,
            reserved_at=now,
            expires_at=now + timedelta(minutes=queue.reservation_minutes),
            display_order=order,
        )
        item.slots_taken += 1
        if item.slots_taken >= item.overlap:
            item.status = AnnotationItem.Status.FULL
        item.save(update_fields=["slots_taken", "status"])
    return assignment
