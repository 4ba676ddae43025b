"""Submitting answers: the pairwise → preference pair path, the other task kinds, and every refusal."""

from datetime import timedelta

import pytest

from annotation.kinds import pairwise
from annotation.models import AnnotationItem, Answer, BadCase, Candidate, PreferencePair
from annotation.services import answers as answers_service
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from tests.annotation.factories import make_queue, make_world, side_for
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def snapshot() -> tuple:
    return (
        Answer.objects.count(),
        PreferencePair.objects.count(),
        BadCase.objects.count(),
        AuditEvent.objects.count(),
        list(AnnotationItem.objects.values_list("answers_count", flat=True)),
    )


def test_pairwise_answer_maps_screen_side_to_candidate_and_makes_a_pair(world, role_users):
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    assignment = annotation_task_next(user=user, queue=queue)
    answer = answer_submit(
        assignment_id=assignment.pk,
        user=user,
        data={"side": "B", "strength": "3", "reasons": ["tone", "leak"], "note": "cold"},
    )
    right = assignment.display_order[1]
    pair = answer.preference_pair
    assert pair.chosen_id == right and pair.rejected_id == assignment.display_order[0]
    assert pair.provenance == "language_expert" and pair.margin == 2.0
    assert pair.guideline == world["guideline"] and pair.sop == world["sop"]
    assert pair.reason_codes == ["tone", "leak"] and pair.annotator == user
    assert answer.shown_left_id == assignment.display_order[0]
    assert answer.guideline == world["guideline"]
    item = AnnotationItem.objects.get(pk=assignment.item_id)
    assert item.answers_count == 1 and item.agreement == 1.0
    assert AuditEvent.objects.filter(object_type="annotation.answer", object_id=str(answer.pk)).exists()


def test_equal_makes_no_pair(world, role_users):
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    assignment = annotation_task_next(user=user, queue=queue)
    answer = answer_submit(assignment_id=assignment.pk, user=user, data={"side": "equal"})
    assert answer.preference_pair is None and answer.choice == "equal"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"side": "left"}, pairwise.BAD_SIDE),
        ({"side": "A"}, pairwise.STRENGTH_REQUIRED),
        ({"side": "A", "strength": "2", "reasons": ["nonsense"]}, "Unknown reason code: nonsense."),
        ({"side": "A", "strength": "2", "note": "x" * 2001}, pairwise.NOTE_TOO_LONG),
    ],
)
def test_bad_pairwise_input_is_400_and_writes_nothing(world, role_users, data, message):
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    assignment = annotation_task_next(user=user, queue=queue)
    before = snapshot()
    with pytest.raises(ApplicationError) as err:
        answer_submit(assignment_id=assignment.pk, user=user, data=data)
    assert err.value.message == message and err.value.status == 400
    assert snapshot() == before


def test_refusals_not_held_twice_expired_other_user(world, role_users):
    user, other = role_users["language_expert"], make_user("lang-other", "language_expert")
    queue = make_queue(world, dialogues=2)
    assignment = annotation_task_next(user=user, queue=queue)
    before = snapshot()
    cases = [
        (dict(assignment_id=999999, user=user), answers_service.NOT_HELD, 404),
        (dict(assignment_id=assignment.pk, user=other), answers_service.NOT_YOURS, 403),
        (
            dict(assignment_id=assignment.pk, user=user, now=assignment.expires_at + timedelta(seconds=1)),
            answers_service.EXPIRED,
            409,
        ),
    ]
    for kwargs, message, status in cases:
        with pytest.raises(ApplicationError) as err:
            answer_submit(data={"side": "equal"}, **kwargs)
        assert (err.value.message, err.value.status) == (message, status)
        assert snapshot() == before
    answer_submit(assignment_id=assignment.pk, user=user, data={"side": "equal"})
    after_first = snapshot()
    with pytest.raises(ApplicationError) as err:
        answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "1"})
    assert (err.value.message, err.value.status) == (answers_service.ALREADY_SUBMITTED, 409)
    assert snapshot() == after_first


def test_disagreement_goes_to_review_and_agreement_is_filled(world):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    a, b = make_user("l1", "language_expert"), make_user("l2", "language_expert")
    for user, choice in ((a, "a"), (b, "b")):
        assignment = annotation_task_next(user=user, queue=queue)
        answer_submit(
            assignment_id=assignment.pk, user=user, data={"side": side_for(assignment, choice), "strength": "2"}
        )
    item = AnnotationItem.objects.get(queue=queue)
    assert item.status == AnnotationItem.Status.IN_REVIEW and item.agreement == 0.5
    assert set(PreferencePair.objects.values_list("agreement", flat=True)) == {0.5}


def test_agreement_without_sampling_is_done(world):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0, kind="rating", lens="bd")
    a, b = make_user("b1", "bd_expert"), make_user("b2", "bd_expert")
    for user, score in ((a, "4"), (b, "5")):
        assignment = annotation_task_next(user=user, queue=queue)
        answer_submit(assignment_id=assignment.pk, user=user, data={"rating": score})
    item = AnnotationItem.objects.get(queue=queue)
    assert item.status == AnnotationItem.Status.DONE and item.agreement == 0.5  # one apart: not a disagreement


def test_rubric_requires_every_dimension_of_the_lens(world, role_users):
    user = role_users["bd_expert"]
    queue = make_queue(world, dialogues=1, kind="rubric", lens="bd")
    assignment = annotation_task_next(user=user, queue=queue)
    with pytest.raises(ApplicationError, match="price_accuracy"):
        answer_submit(assignment_id=assignment.pk, user=user, data={"sop": 5, "effectiveness": 4, "scope": 3})
    answer = answer_submit(
        assignment_id=assignment.pk, user=user, data={"sop": 5, "effectiveness": 4, "scope": 3, "price_accuracy": "2"}
    )
    assert answer.scores == {"sop": 5, "effectiveness": 4, "price_accuracy": 2, "scope": 3}


def test_bad_case_answer_keeps_the_diff_and_saves_gold_as_candidate(world, role_users):
    user = role_users["bd_expert"]
    queue = make_queue(world, dialogues=1, kind="bad_case", lens="bd")
    assignment = annotation_task_next(user=user, queue=queue)
    model_reply = assignment.item.candidate_a.text
    with pytest.raises(ApplicationError, match="SOP clause"):
        answer_submit(
            assignment_id=assignment.pk,
            user=user,
            data={"gold_reply": "Could you reach 690?", "category": "tone", "severity": "major", "clause": "9.9"},
        )
    answer = answer_submit(
        assignment_id=assignment.pk,
        user=user,
        data={"gold_reply": "Could you reach 690 this week?", "category": "tone", "severity": "minor", "clause": "2.1"},
    )
    bad = answer.bad_case
    assert bad.status == BadCase.Status.GOLD_WRITTEN and bad.model_reply == model_reply
    assert bad.clause.code == "2.1" and "+Could you reach 690 this week?" in bad.gold_diff
    assert Candidate.objects.filter(key=f"gold:{bad.pk}", source="human", text=bad.gold_reply).exists()
    assert answer.scores == {"category": "tone", "severity": 1}


@pytest.mark.parametrize(
    ("note", "expected"),
    [("cold \x00", "NUL character"), ("price \u202e0001", "bidirectional control"), ("a\ud800", "lone surrogate")],
)
def test_hostile_answer_text_is_a_400_and_nothing_is_written(world, role_users, note, expected):
    """Answer notes and gold replies go through kernel/text.py like imports do (docs/import-schema.md)."""
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    assignment = annotation_task_next(user=user, queue=queue)
    before = snapshot()
    with pytest.raises(ApplicationError, match=expected) as refused:
        answer_submit(assignment_id=assignment.pk, user=user, data={"side": "A", "strength": "3", "note": note})
    assert refused.value.status == 400 and snapshot() == before
    bd = role_users["bd_expert"]
    bad_queue = make_queue(world, dialogues=0, kind="bad_case", lens="bd")
    held = annotation_task_next(user=bd, queue=bad_queue)
    before = snapshot()
    data = {"gold_reply": f"Could you reach 690? {note}", "category": "tone", "severity": "minor", "clause": "2.1"}
    with pytest.raises(ApplicationError, match=expected):
        answer_submit(assignment_id=held.pk, user=bd, data=data)
    assert snapshot() == before


def test_a_1mb_note_is_refused_naming_the_note_not_cut(world, role_users):
    """Rating and rubric notes, and excellent-turn notes, are refused past their limit (they used to be cut
    silently at 2,000 characters), with the field named; nothing is written."""
    from annotation.services.excellent import excellent_flag

    user = role_users["bd_expert"]
    queue = make_queue(world, dialogues=1, kind="rating", lens="bd")
    assignment = annotation_task_next(user=user, queue=queue)
    before = snapshot()
    with pytest.raises(ApplicationError) as err:
        answer_submit(assignment_id=assignment.pk, user=user, data={"rating": "4", "note": "n" * 2**20})
    assert err.value.message == "note: 1048576 characters, the limit is 2000" and snapshot() == before
    with pytest.raises(ApplicationError, match="note: 2001 characters, the limit is 2000"):
        excellent_flag(dialogue=queue.items.get().dialogue, turn=5, user=user, note="n" * 2001)
