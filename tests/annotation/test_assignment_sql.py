"""The selector's guarantees hold on both of its paths: the one-statement reservation (PostgreSQL) and the ORM
transaction (other databases), and the one-statement path is two round trips with no transaction block."""

import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import AnnotationItem, Assignment
from annotation.services import assignment as selector
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from tests.annotation.factories import make_queue, make_world
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one_statement", "orm"])
def path(request, monkeypatch):
    """Run the test once per reservation path (the ORM one forced on PostgreSQL too)."""
    if request.param == "orm":
        monkeypatch.setattr(selector, "_reserve_in_one_statement", selector._reserve_with_orm)
    return request.param


@pytest.fixture
def world():
    return make_world()


def experts(n: int, prefix: str = "sql"):
    return [make_user(f"{prefix}{i}", "language_expert") for i in range(n)]


def answer(assignment, user):
    answer_submit(assignment_id=assignment.pk, user=user, data={"side": "equal"})


def test_held_task_is_resumed_and_items_come_in_id_order(world, path):
    queue = make_queue(world, dialogues=3)
    (user,) = experts(1)
    items = list(AnnotationItem.objects.filter(queue=queue).order_by("id"))
    first = annotation_task_next(user=user, queue=queue)
    assert first.item_id == items[0].pk and first.item == items[0]  # loaded with its item
    assert annotation_task_next(user=user, queue=queue).pk == first.pk
    assert first.expires_at == first.reserved_at + timedelta(minutes=queue.reservation_minutes)
    answer(first, user)
    assert annotation_task_next(user=user, queue=queue).item_id == items[1].pk


def test_per_user_cap_counts_answers_but_never_hides_a_held_task(world, path):
    queue = make_queue(world, dialogues=4, per_user_cap=2)
    (user,) = experts(1)
    for _ in range(2):
        held = annotation_task_next(user=user, queue=queue)
        assert annotation_task_next(user=user, queue=queue).pk == held.pk
        answer(held, user)
    assert annotation_task_next(user=user, queue=queue) is None
    assert Assignment.objects.filter(user=user).count() == 2
    assert AnnotationItem.objects.filter(queue=queue, slots_taken=0).count() == 2  # no slot taken past the cap


def test_overlap_fills_each_item_with_distinct_users_then_marks_it_full(world, path):
    queue = make_queue(world, dialogues=2, target_overlap=2)
    a, b, c, d, e = experts(5)
    first, second = AnnotationItem.objects.filter(queue=queue).order_by("id")
    assert [annotation_task_next(user=u, queue=queue).item_id for u in (a, b, c, d)] == [
        first.pk,
        first.pk,
        second.pk,
        second.pk,
    ]
    assert annotation_task_next(user=e, queue=queue) is None
    for item in (first, second):
        item.refresh_from_db()
        assert (item.slots_taken, item.status) == (2, AnnotationItem.Status.FULL)


def test_an_item_is_never_served_twice_to_a_user_even_after_its_reservation_expired(world, path):
    queue = make_queue(world, dialogues=2, target_overlap=2)
    a, b = experts(2)
    first = annotation_task_next(user=a, queue=queue)
    later = timezone.now() + timedelta(minutes=queue.reservation_minutes + 1)
    again = annotation_task_next(user=a, queue=queue, now=later)  # the first hold expired meanwhile
    assert again.item_id != first.item_id
    answer(again, a)
    assert annotation_task_next(user=a, queue=queue, now=later) is None  # both items already held once
    first.refresh_from_db()
    assert first.status == Assignment.Status.EXPIRED
    assert annotation_task_next(user=b, queue=queue, now=later).item_id == first.item_id


def test_expired_reservation_is_swept_and_its_slot_given_to_the_next_user(world, path, monkeypatch):
    queue = make_queue(world, dialogues=1)
    a, b = experts(2)
    held = annotation_task_next(user=a, queue=queue)
    # the periodic sweep is not due: only "nothing free" can trigger the sweep that frees the slot
    monkeypatch.setitem(selector._last_sweep, queue.pk, time.monotonic())
    assert annotation_task_next(user=b, queue=queue) is None
    later = timezone.now() + timedelta(minutes=queue.reservation_minutes + 1)
    taken = annotation_task_next(user=b, queue=queue, now=later)
    assert taken.item_id == held.item_id
    taken.item.refresh_from_db()
    assert (taken.item.slots_taken, taken.item.status) == (1, AnnotationItem.Status.FULL)
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED


@pytest.mark.parametrize("flip", [False, True])
def test_display_order_is_stored_as_drawn(world, path, monkeypatch, flip):
    monkeypatch.setattr(selector.random, "random", lambda: 0.0 if flip else 0.9)
    user = make_user("order", "language_expert")
    pairwise = annotation_task_next(user=user, queue=make_queue(world, dialogues=1))
    a, b = pairwise.item.candidate_a_id, pairwise.item.candidate_b_id
    assert pairwise.display_order == ([b, a] if flip else [a, b])
    one_candidate = annotation_task_next(user=user, queue=make_queue(world, dialogues=1, kind="bad_case"))
    assert one_candidate.display_order == [one_candidate.item.candidate_a_id]
    no_candidate = annotation_task_next(user=user, queue=make_queue(world, dialogues=1, kind="rating"))
    assert no_candidate.display_order == []


def test_one_statement_path_is_two_round_trips(world):
    assert connection.vendor == "postgresql"
    queue = make_queue(world, dialogues=2)
    (user,) = experts(1)
    annotation_task_next(user=user, queue=queue)  # loads the user's roles and runs the first sweep
    answer(Assignment.objects.get(user=user), user)
    with CaptureQueriesContext(connection) as ctx:
        annotation_task_next(user=user, queue=queue)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(sql) == 2, sql  # the reservation statement, then the assignment with its item by id
    assert sql[0].lstrip().startswith("WITH held AS")


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_reservation_commits_asynchronously_in_autocommit_only():
    """Outside a transaction the reservation skips the WAL flush (its own transaction only); inside a
    caller's atomic block it must not, or the caller's other writes would lose their durability too."""
    queue = make_queue(make_world(), dialogues=3)
    (user,) = experts(1)
    annotation_task_next(user=user, queue=queue)  # the first sweep and role lookups
    answer(Assignment.objects.get(user=user), user)
    assert not connection.in_atomic_block
    with CaptureQueriesContext(connection) as ctx:
        assert annotation_task_next(user=user, queue=queue) is not None
    assert "WHEN true THEN 'off'" in ctx.captured_queries[0]["sql"]
    assert _synchronous_commit() == "on"  # set for that statement's transaction, not the session
    answer(Assignment.objects.get(user=user, status=Assignment.Status.RESERVED), user)
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        assert annotation_task_next(user=user, queue=queue) is not None
        assert _synchronous_commit() == "on"
    assert "WHEN false THEN 'off'" in ctx.captured_queries[0]["sql"]
