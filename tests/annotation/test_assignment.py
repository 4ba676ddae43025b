"""The next-task selector: reservation, overlap, caps, lens, expiry, never the same item twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import AnnotationItem, Assignment
from annotation.services.answers import answer_submit
from annotation.services.assignment import WRONG_LENS, annotation_task_next, assignment_release_expired
from kernel.errors import ApplicationError
from tests.annotation.factories import make_queue, make_world
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def language_experts(n: int):
    return [make_user(f"lang{i}", "language_expert") for i in range(n)]


def test_next_reserves_and_resumes_the_same_task(world):
    queue = make_queue(world, dialogues=2)
    (user,) = language_experts(1)
    first = annotation_task_next(user=user, queue=queue)
    assert first.status == Assignment.Status.RESERVED
    assert first.expires_at > timezone.now()
    assert sorted(first.display_order) == sorted([first.item.candidate_a_id, first.item.candidate_b_id])
    assert annotation_task_next(user=user, queue=queue).pk == first.pk
    first.item.refresh_from_db()
    assert first.item.slots_taken == 1 and first.item.status == AnnotationItem.Status.FULL


def test_overlap_spreads_an_item_over_distinct_users_and_never_twice_to_one(world):
    queue = make_queue(world, dialogues=2, target_overlap=2)
    a, b, c = language_experts(3)
    seen = {}
    for user in (a, b):
        for _ in range(2):
            assignment = annotation_task_next(user=user, queue=queue)
            answer_submit(assignment_id=assignment.pk, user=user, data={"side": "equal"})
            seen.setdefault(user.pk, []).append(assignment.item_id)
    for items in seen.values():
        assert len(items) == len(set(items))
    for item in AnnotationItem.objects.filter(queue=queue):
        assert item.slots_taken <= 2
    assert annotation_task_next(user=c, queue=queue) is None  # 2 items × 2 slots, all taken


def test_per_user_cap(world):
    queue = make_queue(world, dialogues=3, per_user_cap=1)
    (user,) = language_experts(1)
    assignment = annotation_task_next(user=user, queue=queue)
    answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "2"})
    assert annotation_task_next(user=user, queue=queue) is None


def test_wrong_lens_is_refused(world, role_users):
    queue = make_queue(world, lens="bd")
    with pytest.raises(ApplicationError, match=WRONG_LENS) as err:
        annotation_task_next(user=role_users["language_expert"], queue=queue)
    assert err.value.status == 403
    assert annotation_task_next(user=role_users["bd_expert"], queue=queue) is not None


def test_expired_reservations_are_released_to_others(world):
    queue = make_queue(world, dialogues=1)
    a, b = language_experts(2)
    held = annotation_task_next(user=a, queue=queue)
    assert annotation_task_next(user=b, queue=queue) is None
    later = timezone.now() + timedelta(minutes=queue.reservation_minutes + 1)
    assert assignment_release_expired(queue=queue, now=later) == 1
    held.refresh_from_db()
    assert held.status == Assignment.Status.EXPIRED
    other = annotation_task_next(user=b, queue=queue, now=later)
    assert other.item_id == held.item_id
    # the user whose reservation expired is not served the same item again
    assert annotation_task_next(user=a, queue=queue, now=later) is None
