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
