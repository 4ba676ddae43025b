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
