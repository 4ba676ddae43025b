"""The audit log, ModelVersion and the reward configuration moved between apps on their own tables: rows
written before the moves are read after them through the new models, relations intact, the audit log
still append-only, and the content types (so the role groups' grants) moved with them."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from kernel.models import AuditEvent
from registry.models import ModelVersion
from training_jobs.models import TrainingJob

BEFORE = [
    ("annotation", "0005_branch_generation"),
    ("training_jobs", "0002_jobs"),
    ("evaluation", "0001_initial"),
    ("deploy", "0001_initial"),
    ("kernel", None),
    ("registry", None),
    ("rewards", None),
]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader: the graph as the database now has it


def write_old_rows(apps) -> dict:
    user = apps.get_model("auth", "User").objects.create(username="before")
    version = apps.get_model("deploy", "ModelVersion")
    base = version.objects.create(name="base", base_model="/m", method="base")
    rm = version.objects.create(name="rm", base_model="/m", method="rm", lineage={"run_dir": "/r"})
    rules = apps.get_model("training_jobs", "RuleSetVersion").objects.create(name="r", version=1, document={})
    config = apps.get_model("training_jobs", "RewardConfig").objects.create(name="c", reward_model=rm, rule_set=rules)
    job = apps.get_model("training_jobs", "TrainingJob").objects.create(
        name="j", method="repo", base_model=base, output_model=rm, reward_config=config, config={}
    )
    event = apps.get_model("annotation", "AuditEvent").objects.create(
        actor=user, action="create", object_type="training_jobs.rewardconfig", object_id=str(config.pk)
    )
    return {"job": job.pk, "config": config.pk, "rm": rm.pk, "event": event.pk, "user": user.pk}


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_moves_are_read_after_them():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    executor = migrate(BEFORE)
    ids = write_old_rows(executor.loader.project_state([t for t in BEFORE if t[1]]).apps)
    migrate(latest)

    job = TrainingJob.objects.select_related("reward_config__reward_model", "base_model").get(pk=ids["job"])
    assert (job.base_model.name, job.reward_config.name, job.reward_config.reward_model.name) == ("base", "c", "rm")
    assert job.reward_config.rule_set.version == 1
    assert ModelVersion.objects.get(pk=ids["rm"]).lineage == {"run_dir": "/r"}
    assert list(ModelVersion.objects.get(pk=ids["rm"]).produced_by.all()) == [job]
    event = AuditEvent.objects.get(pk=ids["event"])
    assert (event.actor_id, event.object_id) == (ids["user"], str(ids["config"]))
    with pytest.raises(IntegrityError), transaction.atomic():  # the append-only trigger kept its table
        AuditEvent.objects.filter(pk=event.pk).update(note="tampered")

    moved = {("kernel", "auditevent"), ("registry", "modelversion"), ("rewards", "rewardconfig")}
    left = {("annotation", "auditevent"), ("deploy", "modelversion"), ("training_jobs", "rewardconfig")}
    labels = set(ContentType.objects.values_list("app_label", "model"))
    assert moved <= labels and not left & labels
    grants = Group.objects.get(name="ml_engineer").permissions.values_list("content_type__app_label", "codename")
    assert {("registry", "add_modelversion"), ("rewards", "change_rewardconfig")} <= set(grants)
