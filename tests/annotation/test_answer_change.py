"""Changing an earlier answer: its author may, until the item goes to review or its rows into a dataset
snapshot; the rows the old answer made are undone, all audited, all or nothing; refusals in words."""

import pytest
from django.urls import reverse

from annotation.kinds import bad_case as bad_case_kind
from annotation.kinds import pairwise
from annotation.models import AnnotationItem, Answer, BadCase, Candidate, GoldDecision, PreferencePair
from annotation.services import answers as answers_service
from annotation.services.answers import answer_change, answer_submit
from annotation.services.assignment import annotation_task_next
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from tests.annotation.factories import make_queue, make_world, side_for
from tests.fixtures.services import make_user
from training_jobs.models import DatasetSnapshot

pytestmark = pytest.mark.django_db
BAD = {"gold_reply": "Could you reach 690 this week?", "category": "tone", "severity": "minor", "clause": "2.1"}


@pytest.fixture
def world():
    return make_world()


def state() -> tuple:
    return (
        list(Answer.objects.order_by("pk").values_list("choice", "strength", "scores", "preference_pair", "bad_case")),
        sorted(PreferencePair.objects.values_list("pk", "chosen_id")),
        sorted(BadCase.objects.values_list("pk", "status")),
        Candidate.objects.count(),
        AuditEvent.objects.count(),
        list(AnnotationItem.objects.order_by("pk").values_list("status", "agreement")),
    )


def _answer(user, queue, choice="a", strength="2"):
    assignment = annotation_task_next(user=user, queue=queue)
    data = {"side": side_for(assignment, choice), "strength": strength} if choice in "ab" else {"side": choice}
    return answer_submit(assignment_id=assignment.pk, user=user, data=data)


def _snapshot(tmp_path, **related):
    snap = DatasetSnapshot.objects.create(
        name="s", kind="preference", path=str(tmp_path / "d.jsonl"), sidecar_path=str(tmp_path / "s.jsonl"), sha256="0"
    )
    for name, rows in related.items():
        getattr(snap, name).add(*rows)
    return snap


def test_pairwise_change_replaces_the_pair_and_is_audited(world, role_users):
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    answer = _answer(user, queue, "a")
    old_pair = answer.preference_pair
    assert old_pair.chosen_id == answer.item.candidate_a_id
    assignment = answer.assignment
    changed = answer_change(
        answer_id=answer.pk,
        user=user,
        data={"side": side_for(assignment, "b"), "strength": "3", "reasons": [], "note": "second look"},
    )
    assert changed.choice == Answer.Choice.B and changed.strength == "strong" and changed.note == "second look"
    assert not PreferencePair.objects.filter(pk=old_pair.pk).exists()
    pair = PreferencePair.objects.get()
    assert (
        pair.chosen_id == answer.item.candidate_b_id and pair.strength == "strong" and changed.preference_pair == pair
    )
    # The item was answered (one slot): its agreement is computed again, last.
    actions = list(AuditEvent.objects.order_by("pk").values_list("object_type", "action"))[-4:-1]
    assert actions == [
        ("annotation.preferencepair", "delete"),
        ("annotation.preferencepair", "create"),
        ("annotation.answer", "change"),
    ]
    change = AuditEvent.objects.filter(object_type="annotation.answer", action="change").get()
    assert change.before["choice"] == "a" and change.after["choice"] == "b"
    # To a tie: no pair is left.
    answer_change(answer_id=answer.pk, user=user, data={"side": "equal", "reasons": []})
    assert not PreferencePair.objects.exists() and Answer.objects.get().choice == Answer.Choice.EQUAL


def test_a_pair_that_was_there_before_the_task_stays(world, role_users):
    """A seeded pair under this annotator's name, which the answer agreed with, is not the answer's to delete."""
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=1)
    item = AnnotationItem.objects.get(queue=queue)
    seeded = PreferencePair.objects.create(
        dialogue=item.dialogue,
        turn=item.turn,
        chosen_id=item.candidate_a_id,
        rejected_id=item.candidate_b_id,
        provenance="language_expert",
        annotator=user,
    )
    answer = _answer(user, queue, "a")
    assert answer.preference_pair == seeded
    answer_change(answer_id=answer.pk, user=user, data={"side": "both_bad"})
    assert PreferencePair.objects.filter(pk=seeded.pk).exists() and Answer.objects.get().preference_pair is None


def test_bad_input_others_review_and_snapshots_are_refused_and_change_nothing(world, role_users, tmp_path):
    user, other = role_users["language_expert"], make_user("lang-other", "language_expert")
    queue = make_queue(world, dialogues=2, review_sample_rate=0)
    answer = _answer(user, queue, "a")
    before = state()
    cases = [
        (dict(answer_id=answer.pk, user=user, data={"side": "left"}), pairwise.BAD_SIDE, 400),
        (dict(answer_id=answer.pk, user=user, data={"side": "A"}), pairwise.STRENGTH_REQUIRED, 400),
        (dict(answer_id=answer.pk, user=other, data={"side": "equal"}), answers_service.NOT_YOUR_ANSWER, 403),
        (dict(answer_id=999999, user=user, data={"side": "equal"}), answers_service.NO_SUCH_ANSWER, 404),
    ]
    for kwargs, message, status in cases:
        with pytest.raises(ApplicationError) as err:
            answer_change(**kwargs)
        assert (err.value.message, err.value.status) == (message, status)
        assert state() == before
    _snapshot(tmp_path, pairs=[answer.preference_pair])
    with pytest.raises(ApplicationError) as err:
        answer_change(answer_id=answer.pk, user=user, data={"side": "equal"})
    assert (err.value.message, err.value.status) == (pairwise.IN_SNAPSHOT, 409)
    # In review: refused in words, whatever the rows.
    second = _answer(user, queue, "equal")
    AnnotationItem.objects.filter(pk=second.item_id).update(status=AnnotationItem.Status.IN_REVIEW)
    with pytest.raises(ApplicationError) as err:
        answer_change(answer_id=second.pk, user=user, data={"side": "both_bad"})
    assert err.value.status == 409 and "in review now" in err.value.message
    AnnotationItem.objects.filter(pk=second.item_id).update(status=AnnotationItem.Status.DONE)
    GoldDecision.objects.create(item_id=second.item_id, reviewer=other, decision="accept")
    with pytest.raises(ApplicationError) as err:
        answer_change(answer_id=second.pk, user=user, data={"side": "both_bad"})
    assert err.value.status == 409


def test_changing_an_answered_item_recomputes_agreement_and_may_send_it_to_review(world):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    a, b = make_user("l1", "language_expert"), make_user("l2", "language_expert")
    first = _answer(a, queue, "a")
    _answer(b, queue, "a")
    item = AnnotationItem.objects.get(queue=queue)
    assert (item.status, item.agreement) == (AnnotationItem.Status.DONE, 1.0)
    answer_change(answer_id=first.pk, user=a, data={"side": side_for(first.assignment, "b"), "strength": "1"})
    item.refresh_from_db()
    assert (item.status, item.agreement) == (AnnotationItem.Status.IN_REVIEW, 0.5)
    assert PreferencePair.objects.filter(agreement=0.5).count() == 2


def test_bad_case_change_both_ways_and_refused_once_reviewed(world, role_users):
    user = role_users["bd_expert"]
    queue = make_queue(world, dialogues=1, kind="bad_case", lens="bd")
    assignment = annotation_task_next(user=user, queue=queue)
    answer = answer_submit(assignment_id=assignment.pk, user=user, data=BAD)
    bad = answer.bad_case
    assert Candidate.objects.filter(key=f"gold:{bad.pk}").exists()
    answer_change(answer_id=answer.pk, user=user, data={"verdict": "nothing_wrong"})
    assert not BadCase.objects.exists() and not Candidate.objects.filter(key=f"gold:{bad.pk}").exists()
    assert Answer.objects.get().scores == {"category": "nothing_wrong", "severity": 0}
    answer = answer_change(
        answer_id=answer.pk, user=user, data={**BAD, "category": "price_confusion", "severity": "severe"}
    )
    assert answer.bad_case.category == "price_confusion" and answer.scores["category"] == "price_confusion"
    BadCase.objects.filter(pk=answer.bad_case_id).update(status=BadCase.Status.REVIEWED)
    with pytest.raises(ApplicationError) as err:
        answer_change(answer_id=answer.pk, user=user, data={"verdict": "nothing_wrong"})
    assert err.value.status == 409 and err.value.message == bad_case_kind.BAD_CASE_MOVED.format(status="reviewed")


def test_rubric_change(world, role_users):
    user = role_users["bd_expert"]
    queue = make_queue(world, dialogues=1, kind="rating", lens="bd")
    assignment = annotation_task_next(user=user, queue=queue)
    answer = answer_submit(assignment_id=assignment.pk, user=user, data={"rating": "2"})
    answer_change(answer_id=answer.pk, user=user, data={"rating": "5", "note": "better than I thought"})
    answer.refresh_from_db()
    assert answer.scores == {"rating": 5} and answer.note == "better than I thought"


def test_change_pages_fill_the_panel_and_say_why_not(client, role_users, world):
    user = role_users["language_expert"]
    queue = make_queue(world, dialogues=2, review_sample_rate=0)
    answer = _answer(user, queue, "a", strength="3")
    client.force_login(user)
    mine = client.get(reverse("annotation:answer_previous", args=[queue.pk])).content.decode()
    url = reverse("annotation:answer_change", args=[answer.pk])
    assert f'href="{url}"' in mine
    html = client.get(url).content.decode()
    side = side_for(answer.assignment, "a")
    assert "Change your answer" in html and "Save the change" in html
    assert 'id="skip"' not in html and " skip " not in html
    assert f'value="{side}" checked' in html and 'name="strength" value="3" checked' in html
    assert client.post(url, {"side": "A"}).status_code == 400  # no strength: the panel again, in words
    response = client.post(url, {"side": "equal"}, follow=True)
    assert "Answer changed." in response.content.decode() and Answer.objects.get().choice == "equal"
    AnnotationItem.objects.filter(pk=answer.item_id).update(status=AnnotationItem.Status.IN_REVIEW)
    mine = client.get(reverse("annotation:answer_previous", args=[queue.pk])).content.decode()
    assert f'href="{url}"' not in mine and "in review now" in mine
    refused = client.get(url)
    assert refused.status_code == 409 and "in review now" in refused.content.decode()
    client.force_login(make_user("lang-other", "language_expert"))
    assert client.get(url).status_code == 403 and client.post(url, {"side": "equal"}).status_code == 403
