"""Agreement reports, disagreement lists, dashboards and the library."""

import math

import pytest

from annotation.agreement import krippendorff_alpha
from annotation.models import AnnotationItem
from annotation.selectors import excellent_library, queue_progress
from annotation.selectors_agreement import disagreement_items, project_agreement_by_lens, queue_agreement
from annotation.selectors_dashboard import project_dashboard_stats
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from annotation.services.excellent import excellent_flag
from tests.annotation.factories import make_dialogue, make_queue, make_world
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db


def rate(queue, users, ratings_by_user):
    for user, ratings in zip(users, ratings_by_user, strict=True):
        for rating in ratings:
            assignment = annotation_task_next(user=user, queue=queue)
            answer_submit(assignment_id=assignment.pk, user=user, data={"rating": rating})


def test_queue_agreement_matches_the_pure_function_and_lists_disagreements():
    world = make_world()
    queue = make_queue(world, dialogues=4, kind="rating", lens="bd", target_overlap=2, review_sample_rate=0)
    users = [make_user("r1", "bd_expert"), make_user("r2", "bd_expert")]
    rate(queue, users, [[5, 4, 2, 1], [5, 4, 4, 1]])  # both take the items in id order
    (row,) = queue_agreement(queue=queue)
    items = list(AnnotationItem.objects.filter(queue=queue).order_by("id"))
    expected = krippendorff_alpha([[5, 4, 2, 1], [5, 4, 4, 1]], "ordinal")
    assert row["question"] == "rating" and row["level"] == "ordinal" and row["items"] == 4
    assert row["alpha"] == pytest.approx(expected)
    assert not math.isnan(row["cohen"]) and math.isnan(row["fleiss"])  # Fleiss is for nominal questions
    (dispute,) = disagreement_items(queue=queue)
    assert dispute["item_id"] == items[2].pk and dispute["values"] == [("r1", 2), ("r2", 4)]
    items[2].refresh_from_db()
    assert items[2].status == "in_review"
    progress = queue_progress(queue=queue)
    assert progress["answers"] == 8 and progress["percent"] == 100
    blocks = project_agreement_by_lens(project=world["project"])
    assert [(b["lens"], b["kind"]) for b in blocks] == [("BD expert", "rating")]


def test_dashboard_and_library():
    world = make_world()
    queue = make_queue(world, dialogues=2, kind="bad_case", lens="bd")
    user = make_user("b", "bd_expert")
    for category in ("tone", "tone"):
        a = annotation_task_next(user=user, queue=queue)
        answer_submit(
            assignment_id=a.pk,
            user=user,
            data={"gold_reply": "Better.", "category": category, "severity": "minor", "clause": "2.2"},
        )
    stats = project_dashboard_stats(project=world["project"])
    assert stats["bad_by_category"] == [{"category": "Pushy or cold tone", "n": 2}]
    assert stats["bad_by_clause"][0]["clause__code"] == "2.2" and stats["bad_by_clause"][0]["n"] == 2
    assert stats["throughput"] == [{"user__username": "b", "answers": 2}]
    assert sum(stats["trend"]["answers"]) == 2
    dialogue = make_dialogue(world)
    excellent_flag(dialogue=dialogue, turn=5, user=user)
    assert len(excellent_library(stage="closing", hotel_type="business")) == 1
    assert excellent_library(stage="opening") == [] and excellent_library(hotel_type="resort") == []


def test_position_bias_counts_left_choices():
    from annotation.selectors import position_bias
    from tests.annotation.factories import side_for

    world = make_world()
    queue = make_queue(world, dialogues=3)
    user = make_user("pb", "language_expert")
    sides = []
    for choice in ("a", "b", "a"):
        a = annotation_task_next(user=user, queue=queue)
        side = side_for(a, choice)
        sides.append(side)
        answer_submit(assignment_id=a.pk, user=user, data={"side": side, "strength": "1"})
    bias = position_bias(queue=queue)
    assert bias["decided"] == 3 and bias["left"] == sides.count("A")
