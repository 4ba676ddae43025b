"""Review and consensus, the bad-case lifecycle, branching and the excellent library."""

import pytest

from annotation.models import AnnotationItem, BadCase, Candidate, ExcellentTurn, GoldDecision, PreferencePair
from annotation.services import bad_cases, branching, excellent, review
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from tests.annotation.factories import make_dialogue, make_queue, make_world, side_for
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def answered(queue, sides, role="language_expert"):
    users = [make_user(f"r{queue.pk}-{i}", role) for i in range(len(sides))]
    for user, data in zip(users, sides, strict=True):
        assignment = annotation_task_next(user=user, queue=queue)
        if data.get("side") in ("a", "b"):  # canonical candidate → the side this user saw it on
            data = {**data, "side": side_for(assignment, data["side"])}
        answer_submit(assignment_id=assignment.pk, user=user, data=data)
    return AnnotationItem.objects.get(pk=assignment.item_id)


def test_accept_keeps_majority_pairs_and_stores_gold_apart(world, role_users):
    queue = make_queue(world, dialogues=1, target_overlap=3, review_sample_rate=0)
    item = answered(queue, [{"side": s, "strength": "2"} for s in "aab"])
    assert item.status == AnnotationItem.Status.IN_REVIEW
    gold = review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")
    assert gold.choice == "a" and gold.decision == "accept"
    kept = PreferencePair.objects.all()
    assert kept.count() == 2 and all(p.reviewed for p in kept)
    assert item.answers.count() == 3  # raw answers untouched
    item.refresh_from_db()
    assert item.status == AnnotationItem.Status.RESOLVED
    assert AuditEvent.objects.filter(action="review", object_id=str(item.pk)).exists()
    with pytest.raises(ApplicationError, match="already has a gold decision"):
        review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")


def test_reject_needs_a_reason_and_removes_pairs(world, role_users):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    item = answered(queue, [{"side": "a", "strength": "1"}, {"side": "b", "strength": "1"}])
    with pytest.raises(ApplicationError) as err:
        review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="reject")
    assert err.value.message == review.REASON_REQUIRED
    assert not GoldDecision.objects.exists()
    review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="reject", reason="both off-topic")
    assert PreferencePair.objects.count() == 0


def test_fix_sets_the_gold_choice_and_creates_a_reviewer_pair(world, role_users):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    item = answered(queue, [{"side": "equal"}, {"side": "both_bad"}])
    with pytest.raises(ApplicationError, match="correct choice"):
        review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="fix", choice="left")
    gold = review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="fix", choice="b", reason="B ok")
    pair = PreferencePair.objects.get()
    assert gold.choice == "b" and pair.chosen_id == item.candidate_b_id and pair.reviewed
    assert pair.annotator == role_users["reviewer"]


def test_a_tie_has_no_majority_to_accept_and_the_plan_names_whose_pair_goes(world, role_users):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    item = answered(queue, [{"side": "a", "strength": "2"}, {"side": "b", "strength": "2"}])
    assert review.majority_tie(item=item) == "1–1"
    with pytest.raises(ApplicationError, match="tied 1–1"):
        review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")
    assert PreferencePair.objects.count() == 2 and not GoldDecision.objects.exists()  # nothing removed
    plan = review.gold_plan(item=item, decision="fix", choice="a")
    first, second = (a.user.username for a in item.answers.order_by("id"))
    assert plan.kept == [first] and plan.removed == [second]
    assert plan.summary() == f"keeps the pair of {first}; removes the pair of {second}"


def test_unfinished_items_cannot_be_reviewed(world, role_users):
    queue = make_queue(world, dialogues=1, target_overlap=2)
    item = AnnotationItem.objects.get(queue=queue)
    with pytest.raises(ApplicationError) as err:
        review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")
    assert err.value.status == 409


def test_bad_case_lifecycle_is_guarded(world, role_users):
    queue = make_queue(world, dialogues=1, kind="bad_case", lens="bd", review_sample_rate=1)
    item = answered(
        queue,
        [{"gold_reply": "Better reply.", "category": "tone", "severity": "major", "clause": "2.1"}],
        role="bd_expert",
    )
    bad = BadCase.objects.get()
    with pytest.raises(ApplicationError) as err:
        bad_cases.bad_case_transition(bad_case=bad, to="fixed", actor=None)
    assert err.value.message == bad_cases.BAD_TRANSITION.format(before="gold_written", after="fixed")
    review.gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")
    bad.refresh_from_db()
    assert bad.status == "reviewed"
    for step in ("in_dataset", "fixed", "regressed"):
        bad = bad_cases.bad_case_transition(bad_case=bad, to=step, actor=None)
    assert bad.status == "regressed"
    assert AuditEvent.objects.filter(object_type="annotation.badcase", object_id=str(bad.pk)).count() >= 4


def test_edit_gold_rewrites_diff_and_candidate(world, role_users):
    dialogue = make_dialogue(world)
    bad = bad_cases.bad_case_create(
        dialogue=dialogue,
        turn=3,
        model_reply="Pay 780 now.",
        actor=None,
        data={"gold_reply": "Could you reach 690?", "category": "tone", "severity": "minor", "clause": "2.1"},
    )
    with pytest.raises(ApplicationError, match="identical"):
        bad_cases.bad_case_edit_gold(
            bad_case=bad,
            actor=None,
            data={"gold_reply": "Pay 780 now.", "category": "tone", "severity": "minor", "clause": "2.1"},
        )
    bad = bad_cases.bad_case_edit_gold(
        bad_case=bad,
        actor=role_users["bd_expert"],
        data={
            "gold_reply": "Could you reach 700?",
            "category": "price_confusion",
            "severity": "major",
            "clause": "2.2",
        },
    )
    assert "+Could you reach 700?" in bad.gold_diff and "-Pay 780 now." in bad.gold_diff
    assert Candidate.objects.get(key=f"gold:{bad.pk}").text == "Could you reach 700?"


def test_branch_at_a_turn_makes_a_human_candidate_with_the_shared_prefix(world, role_users):
    dialogue = make_dialogue(world, candidates=0)
    queue = make_queue(world, dialogues=1)
    with pytest.raises(ApplicationError, match="agent turn"):
        branching.branch_create(dialogue=dialogue, turn=2, text="Hi", author=role_users["bd_expert"])
    with pytest.raises(ApplicationError, match="Write the alternative"):
        branching.branch_create(dialogue=dialogue, turn=3, text="  ", author=role_users["bd_expert"])
    cand = branching.branch_create(
        dialogue=dialogue, turn=3, text="Could we meet at 700?", author=role_users["bd_expert"], queue=queue
    )
    assert cand.source == "human" and cand.turn == 3
    item = AnnotationItem.objects.filter(queue=queue, candidate_b=cand).get()
    assert item.candidate_a.text == dialogue.messages.get(index=3).content  # the logged reply, now a candidate
    assert branching.branch_turn_valid(dialogue=make_dialogue(world, n=5), turn=5)  # after the hotel's last word


def test_excellent_flag_only_agent_turns_once(world, role_users):
    dialogue = make_dialogue(world)
    with pytest.raises(ApplicationError, match="agent message"):
        excellent.excellent_flag(dialogue=dialogue, turn=2, user=role_users["bd_expert"])
    flagged = excellent.excellent_flag(dialogue=dialogue, turn=5, user=role_users["bd_expert"], note="great close")
    with pytest.raises(ApplicationError) as err:
        excellent.excellent_flag(dialogue=dialogue, turn=5, user=role_users["bd_expert"])
    assert err.value.status == 409
    excellent.excellent_unflag(excellent=flagged, user=role_users["bd_expert"])
    assert not ExcellentTurn.objects.exists()
    assert AuditEvent.objects.filter(object_type="annotation.excellentturn", action="delete").exists()
