"""Consensus: side by side with disagreement, recorded by a lead; refused without judgments; agreement."""

import pytest
from django.urls import reverse

from evaluation.models import Judgment
from evaluation.selectors.reports import agreement
from evaluation.services import consensus as cs
from evaluation.services.consensus import consensus_record, disagreement
from kernel.errors import ApplicationError

from .factories import ALL_SKILLS, add_responses, judge, make_set, make_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated():
    eval_set = make_set(kind="online", n=1)
    system = make_system("REPO")
    add_responses(eval_set, system)
    item = eval_set.items.get()
    for rater, rating in (("task", 5), ("ling", 4), ("cs", 3)):
        judge(item, system, rater, rating=rating, skills={**ALL_SKILLS, "fluency": rater != "cs"})
    return eval_set, item, system


def test_disagreement_lists_spread_statuses_and_split_skills(rated):
    _, item, system = rated
    d = disagreement(list(Judgment.objects.filter(item=item, system=system)))
    assert d == {"rating_spread": 2, "statuses": [], "skills": ["fluency"], "any": True}


def test_consensus_is_recorded_and_replaced(rated, role_users):
    _, item, system = rated
    lead = role_users["reviewer"]
    first = consensus_record(item=item, system=system, lead=lead, rating=4, excellent_turns=[2], skills=ALL_SKILLS)
    again = consensus_record(item=item, system=system, lead=lead, rating=5, skills=ALL_SKILLS)
    assert first.pk == again.pk and again.rating == 5 and again.consensus and again.rater == lead.username
    assert Judgment.objects.filter(consensus=False).count() == 3


def test_a_consensus_without_judgments_is_refused(role_users):
    eval_set = make_set(kind="online", n=1)
    system = make_system("REPO")
    with pytest.raises(ApplicationError) as exc:
        consensus_record(item=eval_set.items.get(), system=system, lead=role_users["reviewer"], rating=4)
    assert exc.value.messages == [cs.ERR_WITHOUT_JUDGMENTS]
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"rating": 0}, cs.ERR_RATING),
        ({"rating": 6}, cs.ERR_RATING),
        ({"rating": 4, "excellent_turns": [9]}, cs.ERR_TURNS),
    ],
)
def test_bad_consensus_values(rated, role_users, fields, error):
    _, item, system = rated
    with pytest.raises(ApplicationError) as exc:
        consensus_record(item=item, system=system, lead=role_users["reviewer"], **fields)
    assert exc.value.messages == [error]
    assert not Judgment.objects.filter(consensus=True).exists()


def test_unknown_consensus_fix_status(role_users):
    eval_set = make_set(name="bc", kind="bad_case", n=1)
    system = make_system("REPO")
    item = eval_set.items.get()
    judge(item, system, "task", fix_status="clean")
    with pytest.raises(ApplicationError) as exc:
        consensus_record(item=item, system=system, lead=role_users["ml_engineer"], fix_status="fixed")
    assert exc.value.messages == [cs.ERR_FIX_STATUS]


def test_consensus_page_shows_raters_side_by_side_and_records(client_for, rated):
    eval_set, item, system = rated
    client = client_for("reviewer")
    page = client.get(reverse("evaluation:consensus_item", args=[item.pk])).content.decode()
    assert "raters disagree" in page and "Response 1" in page and "REPO" not in page
    assert page.count("<td>task</td>") == 1
    response = client.post(reverse("evaluation:consensus_item", args=[item.pk]), {"1-rating": "4", "1-fluency": "on"})
    assert response.status_code == 302
    final = Judgment.objects.get(consensus=True)
    assert final.rating == 4 and final.skills["fluency"] is True and final.skills["scope_understanding"] is False


def test_consensus_page_bad_input_is_400_and_writes_nothing(client_for, rated):
    _, item, _ = rated
    client = client_for("ml_engineer")
    response = client.post(reverse("evaluation:consensus_item", args=[item.pk]), {"1-rating": "7"})
    assert response.status_code == 400 and cs.ERR_RATING in response.content.decode()
    assert not Judgment.objects.filter(consensus=True).exists()


def test_consensus_page_without_judgments_is_400(client_for):
    eval_set = make_set(kind="online", n=1)
    response = client_for("reviewer").post(reverse("evaluation:consensus_item", args=[eval_set.items.get().pk]), {})
    assert response.status_code == 400 and cs.ERR_WITHOUT_JUDGMENTS in response.content.decode()


def test_consensus_is_closed_to_evaluators(client_for, rated):
    _, item, _ = rated
    assert client_for("evaluator").get(reverse("evaluation:consensus_item", args=[item.pk])).status_code == 403


def test_agreement_per_question_matches_krippendorff():
    import krippendorff

    eval_set = make_set(kind="online", n=4)
    system = make_system("REPO")
    ratings = {"a": [5, 4, 3, 2], "b": [5, 4, 2, 2], "c": [4, 4, 3, 1]}
    for rater, values in ratings.items():
        for item, rating in zip(eval_set.items.order_by("position"), values, strict=True):
            judge(item, system, rater, rating=rating, skills=ALL_SKILLS)
    alphas = agreement(eval_set=eval_set)
    expected = krippendorff.alpha(reliability_data=list(ratings.values()), level_of_measurement="ordinal")
    assert alphas["rating"] == pytest.approx(expected)
    assert alphas["skills.fluency"] is None  # everyone passed: no variation, alpha undefined
    assert alphas["fix_status"] is None


@pytest.mark.parametrize("note", ["agreed \x00", "agreed \u2066x", "n" * 2001])
def test_a_hostile_consensus_note_is_a_400_and_nothing_is_written(rated, role_users, note):
    _, item, system = rated
    with pytest.raises(ApplicationError) as refused:
        consensus_record(item=item, system=system, lead=role_users["reviewer"], rating=4, skills=ALL_SKILLS, note=note)
    assert refused.value.status == 400 and refused.value.message.startswith("note: ")
    assert not Judgment.objects.filter(consensus=True).exists()
