"""The task-kind registry: one lookup finds every kind, each kind is complete, and a new kind needs only
its module (and template) for the queue form, the model, the services and the pages to take it."""

import json

import pytest
from django.template.loader import get_template
from django.urls import reverse

from annotation import kinds
from annotation.forms import QueueCreateForm
from annotation.kinds.base import COMMON_KEYS
from annotation.kinds.common import agent_turn_items
from annotation.kinds.rubric import DIMENSIONS
from annotation.kinds.scores import ScoreKind
from annotation.models import AnnotationItem, AnnotationQueue, Answer, GoldDecision
from annotation.services.assignment import annotation_task_next
from annotation.services.review import gold_decide
from engine.vocab import LENSES
from tests.annotation.factories import make_queue, make_world
from tests.fixtures.services import make_user

ALL = kinds.all_kinds()


def test_one_lookup_finds_every_kind_in_the_registry_order():
    assert [k.name for k in ALL] == ["pairwise", "bad_case", "rubric", "rating"]
    assert all(kinds.kind_for(k.name) is k for k in ALL)
    assert kinds.kind_choices() == [(k.name, k.label) for k in ALL]
    assert kinds.kinds_comparing_candidates() == ["pairwise"]
    with pytest.raises(LookupError, match="Unknown task kind 'thumbs'"):
        kinds.kind_for("thumbs")


@pytest.mark.django_db  # the form preselects the project when there is only one
def test_the_model_and_the_queue_form_offer_the_registry():
    assert list(AnnotationQueue._meta.get_field("kind").choices) == kinds.kind_choices()
    assert list(QueueCreateForm().fields["kind"].choices) == kinds.kind_choices()
    assert AnnotationQueue(kind="rubric").task_kind is kinds.kind_for("rubric")


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
def test_every_kind_is_complete(kind):
    get_template(kind.template)
    if kind.review_template:
        get_template(kind.review_template)
    assert kind.label and kind.items_help
    for method in ("items", "answer", "values", "majority", "clean_fix"):
        assert getattr(type(kind), method) is not getattr(kinds.TaskKind, method), f"{kind.name} lacks {method}"


def _keys_named(hint) -> set[str]:
    """The keys a legend entry names; a chord (Ctrl+Enter) and Esc act in text boxes, handled by keys.js."""
    if hint.sep == "+" or hint.keys == ("Esc",):
        return set()
    if hint.sep == "–":
        low, high = (int(k) for k in hint.keys)
        return {str(n) for n in range(low, high + 1)}
    return {k.lower() for k in hint.keys}


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
def test_the_key_map_binds_what_the_legend_shows(kind):
    keymap = kind.keymap()
    assert json.loads(json.dumps(keymap)) == keymap
    assert {binding["do"] for binding in keymap.values()} <= {"check", "score", "turn", "guidelines", "skip", "submit"}
    assert {k.key for k in COMMON_KEYS} <= set(keymap)
    for hint in kind.legend():
        assert _keys_named(hint) <= set(keymap), hint


def test_rubric_has_questions_for_every_lens():
    assert set(DIMENSIONS) == set(LENSES)
    assert all(kinds.kind_for("rubric").questions(lens=lens) for lens in LENSES)


# -- a new kind: its module and nothing else ---------------------------------------------------------------
class Thumbs(ScoreKind):
    """A test-only kind: every agent turn, one 1–5 question ("useful")."""

    name = "thumbs"
    label = "Thumbs on a turn"
    items_help = "every agent turn"

    def questions(self, *, lens):
        return {"useful": "Useful"}

    def items(self, dialogue_ids, *, stage=""):
        return agent_turn_items(dialogue_ids, stage=stage)


@pytest.fixture
def with_thumbs(monkeypatch):
    registry = {**{k.name: k for k in ALL}, "thumbs": Thumbs()}
    monkeypatch.setattr(kinds, "_registry", lambda: registry)


@pytest.mark.django_db
def test_a_new_kind_reaches_the_form_the_services_and_the_pages(with_thumbs, client, role_users):
    assert ("thumbs", "Thumbs on a turn") in QueueCreateForm().fields["kind"].choices
    queue = make_queue(make_world(), kind="thumbs", lens="bd", dialogues=1, target_overlap=2, review_sample_rate=0)
    assert queue.items.count() == 3  # the factory dialogue's agent turns
    votes = ["2", "5"]  # two apart: the item goes to review
    for n, vote in enumerate(votes):
        user = make_user(f"t{n}", "bd_expert")
        assignment = annotation_task_next(user=user, queue=queue)
        client.force_login(user)
        page = client.get(reverse("annotation:task", args=[assignment.pk])).content.decode()
        assert 'data-name="useful"' in page and '"1": {"do": "score", "value": "1"}' in page
        response = client.post(reverse("annotation:task", args=[assignment.pk]), {"useful": vote})
        assert response.status_code == 302
    item = AnnotationItem.objects.get(queue=queue, answers_count=2)
    assert item.status == AnnotationItem.Status.IN_REVIEW
    assert sorted(a.scores["useful"] for a in Answer.objects.filter(item=item)) == [2, 5]
    client.force_login(role_users["reviewer"])
    assert "Useful (for a fix)" in client.get(reverse("annotation:review_item", args=[item.pk])).content.decode()
    gold = gold_decide(item=item, reviewer=role_users["reviewer"], decision="accept")
    assert gold.scores == {"useful": 2} and GoldDecision.objects.count() == 1  # the lower median
