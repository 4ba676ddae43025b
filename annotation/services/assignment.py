"""The one next-task selector: reserve an item for a user under a row lock, release expired reservations.

Concurrency: candidates are locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so twenty annotators asking
at once each lock a different item instead of queueing on the first one; the (item, user) unique
constraint is the last line of defence against serving an item twice to one user.

Cost: on PostgreSQL a call is two round trips and no transaction block: ``_RESERVE_SQL`` (resume the
user's live hold, else check the cap, lock a free item, insert the assignment and take the item's slot,
all in one statement that autocommit makes atomic, committed without waiting for the WAL flush: see the
comment above it), then the assignment and its item loaded by id. Other
databases (SQLite for ``make run``) run the same steps through the ORM in a transaction.
"""

import random
import time
from datetime import timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotation.models import AnnotationItem, AnnotationQueue, Assignment
from kernel.errors import ApplicationError
from kernel.roles import Role, has_role

LENS_ROLES = {"language": Role.LANGUAGE_EXPERT, "bd": Role.BD_EXPERT}
# The expiry sweep is a query of its own: run it at most this often per queue and process (and whenever
# nothing free is found), not on every request. Expired holds only delay others by up to this long.
SWEEP_EVERY_S = 15.0
_last_sweep: dict[int, float] = {}
WRONG_LENS = "This queue is for another expert lens."
QUEUE_CLOSED = "This queue is closed."


class Take(NamedTuple):
    """What one reservation attempt found: the user's assignment (held or new), or whether the cap stopped it."""

    assignment_id: int | None
    capped: bool = False


def lens_for_user(*, user, queue: AnnotationQueue) -> bool:
    # kernel.roles caches the user's group names on the user object: no query once the view's
    # role check has run in this request.
    return has_role(user, (LENS_ROLES[queue.lens],))


def annotation_task_next(*, user, queue: AnnotationQueue, now=None) -> Assignment | None:
    """The user's current reservation in ``queue``, or a new one on the next free item (None when done).

    Never the same item twice to one user, at most ``per_user_cap`` answers, ``target_overlap`` holders
    per item; the candidate order shown to this user is drawn here and stored on the assignment.
    """
    if not queue.is_active:
        raise ApplicationError(QUEUE_CLOSED, status=409)
    if not lens_for_user(user=user, queue=queue):
        raise ApplicationError(WRONG_LENS, status=403)
    now = now or timezone.now()
    if time.monotonic() - _last_sweep.get(queue.pk, -SWEEP_EVERY_S) >= SWEEP_EVERY_S:
        _sweep(queue=queue, now=now)
    take = _reserve(user=user, queue=queue, now=now)
    if take.assignment_id is None and not take.capped and _sweep(queue=queue, now=now):
        take = _reserve(user=user, queue=queue, now=now)
    if take.assignment_id is None:
        return None
    return Assignment.objects.select_related("item").get(pk=take.assignment_id)


def assignment_release_expired(*, queue: AnnotationQueue | None = None, now=None) -> int:
    """Expire reservations past their time and give their slots back; returns how many were released."""
    now = now or timezone.now()
    stale = Assignment.objects.filter(status=Assignment.Status.RESERVED, expires_at__lte=now)
    if queue is not None:
        stale = stale.filter(queue=queue)
    released = 0
    for assignment_id, item_id in list(stale.values_list("id", "item_id")[:500]):
        with transaction.atomic():  # item first, then assignment: the lock order of the selector and submit
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


def _sweep(*, queue: AnnotationQueue, now) -> int:
    _last_sweep[queue.pk] = time.monotonic()
    return assignment_release_expired(queue=queue, now=now)


def _reserve(*, user, queue: AnnotationQueue, now) -> Take:
    flip = random.random() < 0.5  # show candidate B on the left (the stored display order)
    if connection.vendor == "postgresql":
        return _reserve_in_one_statement(user=user, queue=queue, now=now, flip=flip)
    return _reserve_with_orm(user=user, queue=queue, now=now, flip=flip)


# One statement, so autocommit runs it as one transaction in one round trip. Reading top to bottom:
#   held     the user's live reservation in this queue, if any (then nothing else happens);
#   answered the user's submitted answers, counted only when the queue has a per-user cap;
#   free     the first OPEN item (OPEN means slots_taken < overlap, kept under the item lock) the user
#            has never held, locked FOR UPDATE SKIP LOCKED: concurrent callers skip each other's rows.
#            Empty when held or capped. The queue is matched as a range and the order is (queue_id, id)
#            on purpose: with "queue_id =" PostgreSQL drops the queue from the sort key, sees that the
#            primary key gives id order too and, taking taken items to be spread evenly, walks it past
#            all of them although they sit at the front (EXPLAIN ANALYZE on the 100k bench queue: 10k
#            rows filtered, 5 ms, at 10% taken even after ANALYZE; 60k rows, 92 ms, at 60% with stale
#            statistics). Only the partial index item_open_by_queue gives (queue_id, id) order, over
#            open items alone, so a call reads a few index entries and probes the user's own
#            assignments per entry (nested-loop anti join on assignment_unique_item_user);
#   created  the assignment, display order flipped or not as drawn in Python (nulls dropped for items
#            with fewer than two candidates); ON CONFLICT DO NOTHING turns a race between two requests
#            of the same user on the (item, user) constraint into "nothing created" (the caller sweeps
#            and tries again) rather than an error;
#   taken    the item's slot, only for an assignment actually created; FULL when the last slot goes.
# Data-modifying CTEs always run to completion, whether or not the final SELECT reads them.
#
# The final SELECT also turns synchronous_commit off for this statement's own transaction (only when
# it is one: in autocommit, outside any atomic block). A reservation is a soft, expiring hold: waiting
# for the WAL flush cost 3.7 of the call's ~5 ms on the bench machine and queued the twenty annotators
# behind one another's fsyncs. Asynchronous commit keeps the statement atomic and consistent; a crash
# can only forget reservations of the last few hundred ms (the annotator asks again and gets a task). It
# can never lose an answer or let an answer point at a forgotten reservation: the submit commits
# synchronously, and flushing its commit record flushes all WAL written before it, the reservation's too.
_RESERVE_SQL = """
WITH held AS (
    SELECT id FROM {assignment}
    WHERE queue_id = %(queue)s AND user_id = %(user)s AND status = %(reserved)s AND expires_at > %(now)s
    ORDER BY id LIMIT 1
), answered AS (
    SELECT count(*) AS n FROM {assignment}
    WHERE %(cap)s::integer IS NOT NULL AND queue_id = %(queue)s AND user_id = %(user)s AND status = %(submitted)s
), free AS (
    SELECT item.id, item.candidate_a_id, item.candidate_b_id FROM {item} AS item
    WHERE item.queue_id >= %(queue)s AND item.queue_id <= %(queue)s AND item.status = %(open)s
      AND NOT EXISTS (SELECT FROM held)
      AND (%(cap)s::integer IS NULL OR (SELECT n FROM answered) < %(cap)s::integer)
      AND NOT EXISTS (SELECT FROM {assignment} AS mine WHERE mine.item_id = item.id AND mine.user_id = %(user)s)
    ORDER BY item.queue_id, item.id LIMIT 1
    FOR UPDATE OF item SKIP LOCKED
), created AS (
    INSERT INTO {assignment} (item_id, queue_id, user_id, status, reserved_at, expires_at, display_order)
    SELECT id, %(queue)s, %(user)s, %(reserved)s, %(now)s, %(expires)s,
           to_jsonb(array_remove(CASE WHEN %(flip)s THEN ARRAY[candidate_b_id, candidate_a_id]
                                      ELSE ARRAY[candidate_a_id, candidate_b_id] END, NULL))
    FROM free
    ON CONFLICT (item_id, user_id) DO NOTHING
    RETURNING id, item_id
), taken AS (
    UPDATE {item} AS item
    SET slots_taken = item.slots_taken + 1,
        status = CASE WHEN item.slots_taken + 1 >= item.overlap THEN %(full)s ELSE item.status END
    FROM created WHERE item.id = created.item_id
)
SELECT (SELECT id FROM held), (SELECT id FROM created), (SELECT n FROM answered),
       set_config('synchronous_commit', CASE WHEN %(async_commit)s THEN 'off'
                                             ELSE current_setting('synchronous_commit') END, true)
"""


def _reserve_in_one_statement(*, user, queue: AnnotationQueue, now, flip: bool) -> Take:
    sql = _RESERVE_SQL.format(assignment=Assignment._meta.db_table, item=AnnotationItem._meta.db_table)
    params = {
        "queue": queue.pk,
        "user": user.pk,
        "now": now,
        "expires": now + timedelta(minutes=queue.reservation_minutes),
        "cap": queue.per_user_cap,
        "flip": flip,
        "reserved": Assignment.Status.RESERVED.value,
        "submitted": Assignment.Status.SUBMITTED.value,
        "open": AnnotationItem.Status.OPEN.value,
        "full": AnnotationItem.Status.FULL.value,
        # Inside a caller's transaction the setting would cover the caller's other writes: keep it there.
        "async_commit": not connection.in_atomic_block,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        held_id, created_id, answered, _ = cursor.fetchone()
    capped = queue.per_user_cap is not None and answered >= queue.per_user_cap
    return Take(held_id or created_id, capped=capped and held_id is None)


def _reserve_with_orm(*, user, queue: AnnotationQueue, now, flip: bool) -> Take:
    """The same steps as ``_RESERVE_SQL`` for databases without data-modifying CTEs (SQLite)."""
    mine = Assignment.objects.filter(queue=queue, user=user)
    held = mine.filter(status=Assignment.Status.RESERVED, expires_at__gt=now).order_by("id").first()
    if held is not None:
        return Take(held.pk)
    if queue.per_user_cap is not None and mine.filter(status=Assignment.Status.SUBMITTED).count() >= queue.per_user_cap:
        return Take(None, capped=True)
    ever_held = Assignment.objects.filter(item=OuterRef("pk"), user=user)
    free = AnnotationItem.objects.filter(queue=queue, status=AnnotationItem.Status.OPEN).exclude(Exists(ever_held))
    with transaction.atomic():
        item = free.order_by("id").select_for_update(skip_locked=True, of=("self",)).first()
        if item is None:
            return Take(None)
        pair = [item.candidate_b_id, item.candidate_a_id] if flip else [item.candidate_a_id, item.candidate_b_id]
        assignment = Assignment.objects.create(
            item=item,
            queue=queue,
            user=user,
            reserved_at=now,
            expires_at=now + timedelta(minutes=queue.reservation_minutes),
            display_order=[c for c in pair if c is not None],
        )
        item.slots_taken += 1
        if item.slots_taken >= item.overlap:
            item.status = AnnotationItem.Status.FULL
        item.save(update_fields=["slots_taken", "status"])
    return Take(assignment.pk)


NOT_RELEASABLE = "This task is not held by you any more: nothing to release."


@transaction.atomic
def assignment_release(*, assignment_id: int, user) -> Assignment:
    """The user gives a held task back (skip or release): its slot returns to the item for someone else,
    and the item is never served to this user again (the selector skips items the user ever held)."""
    item_of = Assignment.objects.filter(pk=assignment_id).values("item_id")[:1]
    AnnotationItem.objects.select_for_update().filter(pk__in=item_of).values_list("pk").first()  # lock order
    assignment = Assignment.objects.select_for_update().filter(pk=assignment_id).select_related("item").first()
    if assignment is None or assignment.user_id != user.pk or assignment.status != Assignment.Status.RESERVED:
        raise ApplicationError(NOT_RELEASABLE, status=409)
    assignment.status = Assignment.Status.EXPIRED
    assignment.expires_at = min(assignment.expires_at, timezone.now())
    assignment.save(update_fields=["status", "expires_at"])
    item = assignment.item
    item.slots_taken -= 1
    if item.status == AnnotationItem.Status.FULL:
        item.status = AnnotationItem.Status.OPEN
    item.save(update_fields=["slots_taken", "status"])
    return assignment
