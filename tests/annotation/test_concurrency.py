"""Twenty annotators at once on PostgreSQL: distinct tasks, no lost submissions, no double assignment."""

import threading

import pytest
from django.db import connection

from annotation.models import AnnotationItem, Answer, Assignment, PreferencePair
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from tests.annotation.factories import make_queue, make_world
from tests.fixtures.services import make_user

N = 20


def run_at_once(fn, args_list: list) -> list:
    """Run ``fn(*args)`` in one thread per entry, released together by a barrier; each closes its connection."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def worker(i, args):
        try:
            barrier.wait()
            results[i] = fn(*args)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_annotators_get_distinct_tasks_and_lose_no_submission():
    assert connection.vendor == "postgresql"
    world = make_world()
    queue = make_queue(world, dialogues=N + 5)
    users = [make_user(f"c{i}", "language_expert") for i in range(N)]

    assignments = run_at_once(lambda u: annotation_task_next(user=u, queue=queue), [(u,) for u in users])
    assert all(isinstance(a, Assignment) for a in assignments), assignments
    assert len({a.item_id for a in assignments}) == N

    def submit(assignment, user):
        return answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "2"})

    answers = run_at_once(submit, list(zip(assignments, users, strict=True)))
    assert all(isinstance(a, Answer) for a in answers), answers
    assert Answer.objects.count() == N and PreferencePair.objects.count() == N
    assert Assignment.objects.filter(status="submitted").count() == N
    assert sum(AnnotationItem.objects.values_list("answers_count", flat=True)) == N


@pytest.mark.django_db(transaction=True)
def test_overlap_under_contention_never_exceeds_target_or_repeats_a_user():
    world = make_world()
    queue = make_queue(world, dialogues=4, target_overlap=3)
    users = [make_user(f"o{i}", "language_expert") for i in range(N)]
    for _round in range(2):
        run_at_once(lambda u: annotation_task_next(user=u, queue=queue), [(u,) for u in users])
        held = Assignment.objects.filter(status="reserved")
        run_at_once(
            lambda a: answer_submit(assignment_id=a.pk, user=a.user, data={"side": "equal"}),
            [(a,) for a in held.select_related("user")],
        )
    for item in AnnotationItem.objects.filter(queue=queue):
        holders = list(item.assignments.values_list("user_id", flat=True))
        assert len(holders) == len(set(holders)) <= 3
        assert item.slots_taken == len(holders)
    assert Assignment.objects.count() == 4 * 3  # every slot filled exactly once


@pytest.mark.django_db(transaction=True)
def test_one_user_asking_twice_at_once_gets_no_error_and_no_item_twice():
    """Two tabs of each user ask at once (overlap 3): each gets an assignment or none, never an error, and no
    item holds a user twice. (The rarer lost race on the (item, user) constraint, where the other tab commits
    between this statement's snapshot and its row lock, is what ON CONFLICT DO NOTHING in the selector is for;
    the window is too narrow to reproduce here.)"""
    world = make_world()
    queue = make_queue(world, dialogues=3, target_overlap=3)
    users = [make_user(f"t{i}", "language_expert") for i in range(N // 2)]
    results = run_at_once(lambda u: annotation_task_next(user=u, queue=queue), [(u,) for u in users * 2])
    assert all(r is None or isinstance(r, Assignment) for r in results), results
    for item in AnnotationItem.objects.filter(queue=queue):
        holders = list(item.assignments.values_list("user_id", flat=True))
        assert len(holders) == len(set(holders)) <= 3
        assert item.slots_taken == len(holders)
