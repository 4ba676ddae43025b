import pytest
from django.contrib.auth.models import Group

from kernel.roles import Role


@pytest.mark.django_db
def test_migration_creates_every_role_with_permissions():
    groups = {g.name: g for g in Group.objects.all()}
    assert set(Role.values) <= set(groups)
    annotation_perms = set(groups["bd_expert"].permissions.values_list("codename", flat=True))
    assert "add_preferencepair" in annotation_perms and "delete_preferencepair" not in annotation_perms
    assert "delete_dialogue" in set(groups["admin"].permissions.values_list("codename", flat=True))
    assert not groups["evaluator"].permissions.filter(content_type__app_label="annotation").exists()


@pytest.mark.django_db
def test_models_that_moved_between_apps_keep_their_grants():
    """The audit log (kernel), the model registry and reward configuration left annotation, deploy and
    training_jobs; the roles hold the same grants on them under the new app labels."""
    groups = {g.name: g for g in Group.objects.all()}

    def grants(role: str, app: str) -> set[str]:
        return set(groups[role].permissions.filter(content_type__app_label=app).values_list("codename", flat=True))

    assert {"view_auditevent", "add_auditevent"} <= grants("bd_expert", "kernel")
    assert grants("ml_engineer", "kernel") == {"view_auditevent", "view_apikey"}  # keys: read-only admin
    assert {"add_modelversion", "change_modelversion"} <= grants("ml_engineer", "registry")
    assert "delete_modelversion" in grants("admin", "registry")
    assert {"add_rulesetversion", "change_rewardconfig"} <= grants("ml_engineer", "rewards")
    assert not grants("evaluator", "registry") and not grants("evaluator", "kernel")
    assert not grants("evaluator", "rewards")
