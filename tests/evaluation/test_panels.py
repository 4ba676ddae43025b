"""Blind panels: assignment, stored order, submission, bad input, and blindness of every evaluator page."""

import json

import pytest
from django.urls import reverse

from evaluation.models import Judgment, PanelAssignment
from evaluation.services import panels
from evaluation.services.panels import labels_for, panel_assignment_next, panel_judgments_submit, panel_member_set
from kernel.errors import ApplicationError
from tests.fixtures.services import make_user

from .factories import ALL_SKILLS, add_responses, make_set, make_system

pytestmark = pytest.mark.django_db
SECRET = ("SecretRepoSystem", "SecretRepoSystem-v1", "SecretBaseSystem", "SecretBaseSystem-v1")


@pytest.fixture
def online():
    eval_set = make_set(kind="online", n=2)
    systems = [make_system("SecretRepoSystem"), make_system("SecretBaseSystem"), make_system("gold", model=False)]
    add_responses(eval_set, *systems)
    return eval_set, systems


def evaluator(name: str, expertise: str):
    user = make_user(name, "evaluator")
    panel_member_set(user=user, expertise=expertise)
    return user


def answers(labels, rating=4):
    return {label: {"rating": rating, "excellent_turns": [2], "skills": ALL_SKILLS} for label in labels}


def test_assignment_stores_a_shuffled_order_of_every_system(online):
    eval_set, systems = online
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    assert sorted(assignment.order) == sorted(s.pk for s in systems)
    assert panel_assignment_next(user=assignment.rater) == assignment  # unfinished: served again, same order


def test_three_experts_per_item_one_per_lens(online):
    eval_set, _ = online
    first = panel_assignment_next(user=evaluator("t1", "task"))
    second = panel_assignment_next(user=evaluator("t2", "task"))  # same lens: the other item
    assert first.item != second.item
    ling = panel_assignment_next(user=evaluator("l1", "linguistics"))
    cs = panel_assignment_next(user=evaluator("c1", "cs"))
    assert ling.item == cs.item == first.item
    assert PanelAssignment.objects.filter(item=first.item).count() == 3


def test_submission_maps_labels_back_to_systems(online):
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    labels = [label for label, _ in labels_for(assignment.order)]
    given = {label: {"rating": i + 3, "skills": ALL_SKILLS} for i, label in enumerate(labels)}
    panel_judgments_submit(assignment=assignment, answers=given)
    for i, (_, system_id) in enumerate(labels_for(assignment.order)):
        judgment = Judgment.objects.get(item=assignment.item, system_id=system_id, rater="ev1")
        assert judgment.rating == i + 3 and judgment.expertise == "task" and not judgment.consensus
    assignment.refresh_from_db()
    assert assignment.submitted_at is not None


@pytest.mark.parametrize("rating", [0, 6, None, "4"])
def test_bad_rating_is_refused_and_nothing_written(online, rating):
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    labels = [label for label, _ in labels_for(assignment.order)]
    bad = {**answers(labels), labels[-1]: {"rating": rating}}
    with pytest.raises(ApplicationError) as exc:
        panel_judgments_submit(assignment=assignment, answers=bad)
    assert exc.value.messages == [panels.ERR_RATING.format(labels[-1])]
    assert not Judgment.objects.exists()


def test_unknown_fix_status_is_refused():
    eval_set = make_set(name="bc", kind="bad_case", n=1)
    add_responses(eval_set, make_system("SecretRepoSystem"))
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    with pytest.raises(ApplicationError) as exc:
        panel_judgments_submit(assignment=assignment, answers={"A": {"fix_status": "fixed"}})
    assert exc.value.messages == [panels.ERR_FIX_STATUS.format("A")]
    panel_judgments_submit(assignment=assignment, answers={"A": {"fix_status": "clean"}})
    assert Judgment.objects.get().fix_status == "clean"


def test_judging_the_same_item_twice_is_refused(online):
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    labels = [label for label, _ in labels_for(assignment.order)]
    panel_judgments_submit(assignment=assignment, answers=answers(labels))
    with pytest.raises(ApplicationError) as exc:
        panel_judgments_submit(assignment=assignment, answers=answers(labels, rating=1))
    assert exc.value.messages == [panels.ERR_SUBMITTED]
    assert set(Judgment.objects.values_list("rating", flat=True)) == {4}


def test_every_label_must_be_judged(online):
    assignment = panel_assignment_next(user=evaluator("ev1", "task"))
    with pytest.raises(ApplicationError):
        panel_judgments_submit(assignment=assignment, answers={"A": {"rating": 3}})
    assert not Judgment.objects.exists()


def test_no_expertise_no_panel():
    with pytest.raises(ApplicationError, match="expertise"):
        panel_assignment_next(user=make_user("nobody", "evaluator"))


def test_blindness_no_system_name_in_any_evaluator_page_or_api(client, online):
    user = evaluator("blind", "task")
    client.force_login(user)
    bodies = [client.get(reverse("evaluation:panel_home")), client.get(reverse("evaluation:eval_set_list"))]
    assert client.get(reverse("evaluation:panel_next"))["Location"] == reverse("evaluation:panel_home")
    assert not PanelAssignment.objects.filter(rater=user).exists()  # a GET reserves nothing
    assert client.get("/api/eval/panel/next/").status_code == 405
    page = client.post(reverse("evaluation:panel_next"), follow=True)
    bodies.append(page)
    assignment = PanelAssignment.objects.get(rater=user)
    assert page.request["PATH_INFO"] == reverse("evaluation:panel_item", args=[assignment.pk])
    assert 'data-label="A"' in page.content.decode()
    bodies.append(client.post(reverse("evaluation:panel_item", args=[assignment.pk]), {"A-rating": "9"}))
    assert bodies[-1].status_code == 400
    bodies.append(client.post("/api/eval/panel/next/"))
    api = bodies[-1].json()
    assert api["labels"] == ["A", "B", "C"] and api["assignment"] == assignment.pk
    form = {f"{label}-rating": "4" for label in "ABC"}
    done = client.post(reverse("evaluation:panel_item", args=[assignment.pk]), form, follow=True)
    bodies.append(done)
    assert Judgment.objects.filter(rater="blind").count() == 3
    for body in bodies:
        text = body.content.decode()
        for secret in SECRET:
            assert secret not in text, f"{secret} leaked in {body.request['PATH_INFO']}"
    # the reports (which name systems) are closed to evaluators
    eval_set, _ = online
    assert client.get(reverse("evaluation:eval_report", args=[eval_set.pk])).status_code == 403
    assert client.get(f"/api/eval/sets/{eval_set.pk}/report/").status_code == 403


def test_panel_api_submit(client, online):
    user = evaluator("apiev", "linguistics")
    client.force_login(user)
    data = client.post("/api/eval/panel/next/").json()
    body = {"answers": {label: {"rating": 5, "skills": ALL_SKILLS} for label in data["labels"]}}
    url = f"/api/eval/panel/{data['assignment']}/"
    assert client.post(url, json.dumps(body), content_type="application/json").status_code == 201
    again = client.post(url, json.dumps(body), content_type="application/json")
    assert again.status_code == 400 and again.json()["detail"] == panels.ERR_SUBMITTED


def test_another_raters_assignment_is_404(client, online):
    assignment = panel_assignment_next(user=evaluator("owner", "task"))
    client.force_login(evaluator("other", "cs"))
    assert client.get(reverse("evaluation:panel_item", args=[assignment.pk])).status_code == 404


def test_an_assignment_made_before_a_system_was_run_gets_the_new_system(online, client_for):
    eval_set, systems = online
    user = evaluator("ev1", "task")
    assignment = panel_assignment_next(user=user)
    late = make_system("LateSystem")
    add_responses(eval_set, late)  # a run for one more system, after the assignment was made
    client = client_for("evaluator")
    client.force_login(user)
    page = client.get(reverse("evaluation:panel_item", args=[assignment.pk])).content.decode()
    assignment.refresh_from_db()
    assert sorted(assignment.order) == sorted([s.pk for s in systems] + [late.pk])
    assert 'data-label="D"' in page  # four labels now: the late system is rated too
    labels = [label for label, _ in labels_for(assignment.order)]
    panel_judgments_submit(assignment=assignment, answers=answers(labels))
    assert Judgment.objects.filter(system=late).count() == 1


def test_the_panel_shows_the_dialogue_up_to_the_rated_turn_unless_asked_for_all(online, client_for):
    user = evaluator("ev1", "task")
    assignment = panel_assignment_next(user=user)
    client = client_for("evaluator")
    client.force_login(user)
    url = reverse("evaluation:panel_item", args=[assignment.pk])
    page = client.get(url).content.decode()
    assert "we are already cheap" not in page  # the hotel's answer to the original (gold) reply at turn 2
    assert "1 later message hidden" in page and "Show the whole original dialogue" in page
    full = client.get(url, {"context": "full"}).content.decode()
    assert "we are already cheap" in full and "up to the rated turn only" in full
