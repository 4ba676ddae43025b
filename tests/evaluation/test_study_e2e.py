"""A study end to end with the real engine on the tiny model and the shared real Celery worker: two
methods (SFT and REPO, rules-only rewards: no RM to train first, so the test stays a few minutes), two
optimiser steps of four completions each (four: under the paper preset the
PPO/REPO batch must split into 4 mini-batches), then the real eval runs of both versions and of the start
policy on a two-dialogue online set and a two-case bad-case set, and the study page's automatic tables.

The shared worker runs no beat, so the test calls ``studies_advance`` while it waits, as Celery beat does
every ``PARLEY_STUDY_ADVANCE_S`` under ``make run``.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from annotation.models import BadCase, Dialogue
from evaluation.models import Response
from evaluation.selectors.studies import study_view
from evaluation.services.sets import eval_set_create, eval_set_freeze
from evaluation.services.studies import studies_advance, study_create, study_is_settled
from kernel.status import Status
from registry.services import base_model_register
from rewards.models import RewardConfig, RuleSetVersion
from training_jobs.services.snapshots import snapshot_create

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(tiny_model, role_users):
    from annotation.services.demo import demo_world_seed

    demo_world_seed(scale=8, seed=0, password="e2e-demo-password")
    base = base_model_register(name="tiny-study", path=str(tiny_model))
    return base, role_users["ml_engineer"]


def small_set(name: str, kind: str):
    if kind == "online":
        dialogues = list(Dialogue.objects.filter(messages__role="agent").distinct().order_by("id")[:2])
        eval_set = eval_set_create(name=name, kind=kind, dialogues=dialogues)
    else:
        cases = list(BadCase.objects.exclude(gold_reply="").select_related("dialogue").order_by("id")[:2])
        eval_set = eval_set_create(name=name, kind=kind, bad_cases=cases)
    return eval_set_freeze(eval_set=eval_set)


def test_a_study_of_sft_and_repo_fills_in_on_the_real_worker(world, celery_worker, client_for):
    base, user = world
    snapshots = [
        snapshot_create(name="study sft", kind="sft", created_by=user),
        snapshot_create(name="study prompts", kind="prompts", created_by=user),
    ]
    rules = RuleSetVersion.objects.order_by("-id").first()
    reward = RewardConfig.objects.create(name="study rules", rule_set=rules, n=100.0)
    study = study_create(
        name="e2e study",
        base_model=base,
        snapshots=snapshots,
        methods=["sft", "repo"],
        budget={"max_steps": 2, "completions_per_step": 4, "max_response_length": 16},
        online_set=small_set("study online", "online"),
        bad_case_set=small_set("study bad cases", "bad_case"),
        reward_config=reward,
        max_new_tokens=16,
        created_by=user,
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        studies_advance()
        if study_is_settled(study) and study.eval_runs.count() == 6:
            break
        time.sleep(2)
    jobs = {job.method: job for job in study.jobs.all()}
    for job in jobs.values():
        assert job.status == Status.SUCCEEDED, job.error
    assert {j.config["per_device_batch_size"] * j.config["gradient_accumulation_steps"] for j in jobs.values()} == {4}
    runs = list(study.eval_runs.all())
    assert len(runs) == 6 and all(r.status == Status.SUCCEEDED for r in runs), [(r.pk, r.error) for r in runs]
    view = study_view(study=study)
    by_method = {row["method"]: row for row in view["rows"]}
    assert set(by_method) == {"start", "sft", "repo"}
    for row in by_method.values():
        online, bad = row["sets"]["online"]["metrics"], row["sets"]["bad_case"]["metrics"]
        assert online["replies"] > 0 and 0 <= online["values"]["violation_rate"] <= 100
        assert 0 <= bad["values"]["fix_proxy"] <= 100 and "r_total" in bad["values"]
    assert Response.objects.filter(system__model_version=jobs["repo"].output_model).exists()
    page = client_for("ml_engineer").get(reverse("evaluation:study_live", args=[study.pk]))
    assert page["X-Study-Settled"] == "1" and "automatic fix proxy" in page.content.decode()
