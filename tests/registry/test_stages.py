"""The registry's kinds, stages and writes: guarded transitions (409), one production version per slot,
audit events, the loadable-base check, the read-only admin, and the policy-only generation and eval."""

import pytest
from django.contrib.admin.sites import site

from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from registry.models import ModelVersion
from registry.services import (
    BAD_TRANSITION,
    NOT_LOADABLE,
    SLOT_TAKEN,
    base_model_register,
    loadable_model_missing,
    version_promote,
    version_register,
    version_stage_set,
    version_tags_set,
)

pytestmark = pytest.mark.django_db
S = ModelVersion.Stage


def policy(name: str, **extra) -> ModelVersion:
    return version_register(name=name, kind="policy", base_model="/m/base", method="repo", **extra)


def test_stages_move_only_along_the_allowed_transitions_and_are_audited(role_users):
    actor = role_users["ml_engineer"]
    version = policy("v1")
    assert version.stage == S.CANDIDATE
    with pytest.raises(ApplicationError) as refused:
        version_stage_set(version=version, stage=S.PRODUCTION, slot="chase", actor=actor)
    assert refused.value.status == 409
    assert refused.value.message == BAD_TRANSITION.format(before="candidate", after="production")
    version = version_stage_set(version=version, stage=S.STAGING, slot="chase", actor=actor)
    version = version_stage_set(version=version, stage=S.PRODUCTION, actor=actor)
    assert (version.stage, version.slot) == ("production", "chase")
    events = AuditEvent.objects.filter(object_type="registry.modelversion", object_id=str(version.pk), action="stage")
    assert [(e.before["stage"], e.after["stage"], e.actor_id) for e in events.order_by("pk")] == [
        ("candidate", "staging", actor.pk),
        ("staging", "production", actor.pk),
    ]


def test_one_production_version_per_slot_and_promote_replaces_it(role_users):
    old, new = policy("old"), policy("new")
    for v in (old, new):
        version_stage_set(version=v, stage=S.STAGING, slot="chase")
    version_stage_set(version=old, stage=S.PRODUCTION)
    with pytest.raises(ApplicationError) as refused:
        version_stage_set(version=new, stage=S.PRODUCTION)
    assert refused.value.status == 409 and refused.value.message == SLOT_TAKEN.format(slot="chase", name="old")
    version_promote(version=new, slot="chase", actor=role_users["admin"])
    assert ModelVersion.objects.get(pk=old.pk).stage == S.RETIRED
    assert list(ModelVersion.objects.filter(stage=S.PRODUCTION, slot="chase")) == [new]
    assert AuditEvent.objects.filter(action="promote", object_id=str(new.pk)).count() == 1
    # another slot may have its own production version
    other = policy("other")
    version_stage_set(version=other, stage=S.STAGING, slot="follow-up")
    version_stage_set(version=other, stage=S.PRODUCTION)


def test_the_api_answers_409_on_an_illegal_move_and_roles_are_checked(api, client_for):
    version = policy("v1")
    answer = api.post(f"/api/deploy/versions/{version.pk}/stage/", {"stage": "production", "slot": "x"}, format="json")
    assert answer.status_code == 409 and "cannot go from candidate to production" in answer.json()["detail"]
    assert api.post(f"/api/deploy/versions/{version.pk}/stage/", {"stage": "bogus"}, format="json").status_code == 400
    ok = api.post(f"/api/deploy/versions/{version.pk}/stage/", {"stage": "staging", "slot": "x"}, format="json")
    assert ok.status_code == 200 and ok.json()["stage"] == "staging"
    for role in ("language_expert", "bd_expert", "evaluator", "reviewer"):
        client = client_for(role)
        assert client.post(f"/api/deploy/versions/{version.pk}/stage/", {"stage": "retired"}).status_code == 403
        assert client.post(f"/deploy/models/{version.pk}/stage/", {"stage": "retired"}).status_code == 403


def test_the_page_changes_stage_and_tags_and_refuses_an_illegal_move(client_for):
    version = policy("v1")
    client = client_for("ml_engineer")
    assert client.post(f"/deploy/models/{version.pk}/stage/", {"stage": "production", "slot": "x"}).status_code == 409
    assert client.post(f"/deploy/models/{version.pk}/stage/", {"stage": "staging", "slot": "x"}).status_code == 302
    client.post(f"/deploy/models/{version.pk}/tags/", {"tags": "winter, ab-test"})
    page = client.get(f"/deploy/models/{version.pk}/").content.decode()
    assert "Staging" in page and "winter" in page and "ab-test" in page
    assert ModelVersion.objects.get(pk=version.pk).tags == ["winter", "ab-test"]
    with pytest.raises(ApplicationError):
        version_tags_set(version=version, tags=["x" * 51])


def test_a_base_is_registered_only_when_its_path_holds_a_loadable_model(tmp_path, role_users):
    path = tmp_path / "base"
    path.mkdir()
    (path / "config.json").write_text("{}")
    with pytest.raises(ApplicationError) as refused:
        base_model_register(name="half", path=str(path))
    missing = (
        "weights (*.safetensors or pytorch_model*.bin), tokenizer files (tokenizer_config.json and tokenizer.json)"
    )
    assert refused.value.message == NOT_LOADABLE.format(path=path, missing=missing)
    assert loadable_model_missing(tmp_path / "nowhere") == ["the directory does not exist"]
    assert not ModelVersion.objects.exists()
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (path / name).write_text("{}")
    base = base_model_register(name="whole", path=str(path), actor=role_users["admin"])
    assert base.kind == "base" and AuditEvent.objects.filter(action="create", object_id=str(base.pk)).exists()


def test_the_tiny_model_is_loadable(tiny_model):
    assert loadable_model_missing(tiny_model) == []


def test_the_admin_only_reads_the_registry(rf, role_users):
    admin_view = site._registry[ModelVersion]
    request = rf.get("/")
    request.user = role_users["admin"]
    assert not admin_view.has_add_permission(request)
    assert not admin_view.has_change_permission(request)
    assert not admin_view.has_delete_permission(request)


def test_the_backfill_gives_kinds_and_base_keys():
    from importlib import import_module

    from django.apps import apps

    base = ModelVersion.objects.create(name="b", base_model="/m/b", method="base")
    rm = ModelVersion.objects.create(name="r", base_model="/m/b", method="rm")
    pol = ModelVersion.objects.create(name="p", base_model="/m/b", method="dpo")
    import_module("registry.migrations.0003_backfill_kind_base").backfill(apps, None)
    kinds = dict(ModelVersion.objects.values_list("name", "kind"))
    assert kinds == {"b": "base", "r": "reward_model", "p": "policy"}
    assert ModelVersion.objects.get(pk=rm.pk).base_id == base.pk == ModelVersion.objects.get(pk=pol.pk).base_id


def test_branch_generation_and_eval_systems_take_only_policy_versions(role_users):
    from annotation.services.branching import NOT_POLICY, _generation_errors
    from evaluation.services.sets import ERR_NOT_POLICY, eval_system_get_or_create

    rm = version_register(name="rm-1", kind="reward_model", base_model="/m/b", method="rm")
    base = version_register(name="base-1", kind="base", base_model="/m/b", method="base")
    for version in (rm, base):
        with pytest.raises(ApplicationError) as refused:
            eval_system_get_or_create(model_version=version)
        assert refused.value.message == ERR_NOT_POLICY
    assert eval_system_get_or_create(model_version=policy("p1")).model_version.name == "p1"
    from unittest import mock

    with mock.patch("annotation.services.branching.branch_turn_valid", return_value=True):
        args = {"dialogue": None, "turn": 1, "count": 2, "temperature": 0.7, "max_new_tokens": 64, "queue": None}
        assert _generation_errors(model_version=rm, **args) == NOT_POLICY
        assert _generation_errors(model_version=base, **args) == NOT_POLICY
        with mock.patch("annotation.services.branching._queue_refused", return_value=False):
            assert _generation_errors(model_version=policy("p2"), **args) is None
