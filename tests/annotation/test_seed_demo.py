"""``seed_demo``: the demo world, one user per role, and running it twice changes nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import SOP, BadCase, Candidate, Dialogue, Guideline, Message, PreferencePair, Project, SOPClause
from kernel.models import AuditEvent
from kernel.roles import Role

MODELS = (Project, SOP, SOPClause, Guideline, Dialogue, Message, Candidate, PreferencePair, BadCase, AuditEvent)


def _snapshot() -> dict:
    counts = {model.__name__: model.objects.count() for model in MODELS}
    counts["users"] = sorted(get_user_model().objects.values_list("username", "password"))
    return counts


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins(capsys, settings):
    settings.PARLEY_DEMO_PASSWORD = "demo-pass-1"
    call_command("seed_demo", scale=20)
    out = capsys.readouterr().out
    assert "20 dialogues added" in out
    for username in ("language", "bd", "reviewer", "mlengineer", "evaluator", "admin"):
        assert username in out
    assert "demo-pass-1" in out
    before = _snapshot()
    call_command("seed_demo", scale=20)
    assert "0 dialogues added" in capsys.readouterr().out
    assert _snapshot() == before


@pytest.mark.django_db
def test_seed_demo_users_have_their_roles():
    call_command("seed_demo", scale=2)
    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    assert users.get(username="mlengineer").groups.filter(name=Role.ML_ENGINEER).exists()
    assert users.get(username="bd").check_password("parley-demo")
    assert not users.get(username="language").is_staff


@pytest.mark.django_db
def test_a_larger_scale_adds_only_the_new_dialogues(capsys):
    call_command("seed_demo", scale=5)
    call_command("seed_demo", scale=12, seed=0)
    assert "7 dialogues added" in capsys.readouterr().out
    assert Dialogue.objects.count() == 12
    sop = SOP.objects.get()
    assert sop.stages.count() == 7 and sop.clauses.count() == 18


@pytest.mark.django_db
def test_seed_demo_gives_each_lens_two_annotators_and_a_queue_with_overlap_2(capsys):
    from annotation.models import AnnotationQueue
    from annotation.services.answers import answer_submit
    from annotation.services.assignment import annotation_task_next

    call_command("seed_demo", scale=6, world_only=True)
    out = capsys.readouterr().out
    assert "language2" in out and "bd2" in out
    users = get_user_model().objects
    assert users.get(username="language2").groups.filter(name=Role.LANGUAGE_EXPERT).exists()
    assert users.get(username="bd2").check_password("parley-demo")
    for lens in ("language", "bd"):
        queue = AnnotationQueue.objects.get(lens=lens, kind="pairwise")
        assert queue.target_overlap == 2 and queue.items.exists()
    # Two annotators of one lens get the same first item and can split 1–1: it goes to review.
    queue = AnnotationQueue.objects.get(lens="language", kind="pairwise")
    a, b = users.get(username="language"), users.get(username="language2")
    held_a, held_b = annotation_task_next(user=a, queue=queue), annotation_task_next(user=b, queue=queue)
    assert held_a.item_id == held_b.item_id
    answer_submit(assignment_id=held_a.pk, user=a, data={"side": "equal"})
    answer_submit(assignment_id=held_b.pk, user=b, data={"side": "both_bad"})
    held_a.item.refresh_from_db()
    assert held_a.item.status == "in_review"
    call_command("seed_demo", scale=6, world_only=True)
    assert AnnotationQueue.objects.count() == 3
