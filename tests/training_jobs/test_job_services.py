"""Submission validation, guarded transitions, the lease decisions and snapshots (no worker needed)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.models import BadCase
from kernel.errors import ApplicationError
from kernel.status import Action, InvalidTransition, Status, row_transition
from tests.training_jobs import factories
from training_jobs.models import TrainingJob
from training_jobs.services import engine_config, jobs, runner, snapshots
from training_jobs.services.leases import job_claim

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Queued messages are not the point here: record them instead of publishing."""
    sent = []
    monkeypatch.setattr(jobs, "row_enqueue", sent.append)
    return sent


def submit(**overrides) -> TrainingJob:
    kwargs = {
        "name": "repo run",
        "method": "repo",
        "base_model": factories.base_model(),
        "snapshots": [factories.snapshot(kind="prompts")],
        "reward_config": factories.reward_config(),
    }
    return jobs.job_create(**{**kwargs, **overrides})


def test_submission_writes_a_queued_row_and_a_valid_engine_config(no_broker):
    job = submit(hyperparameters={"max_steps": "3", "learning_rate": "0.001"})
    assert job.status == Status.QUEUED and job.queued_at
    assert job.config["method"] == "repo" and job.config["max_steps"] == 3 and job.config["learning_rate"] == 0.001
    assert job.config["rewards"]["rules"] == {"rules": []}
    assert job.config["dataset"] == job.snapshots.get().path
    assert [(row.pk, row.queue, row.task_name) for row in no_broker] == [
        (job.pk, "gpu", "training_jobs.run_training_job")
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"method": "dpo"}, "A dpo job trains on preference or preference-implicit snapshots"),
        ({"reward_config": None}, engine_config.ERR_REWARD_REQUIRED.format(method="REPO")),
        ({"method": "ppo"}, engine_config.ERR_RM_REQUIRED),
        ({"queue": "nowhere"}, "Unknown queue 'nowhere'"),
        ({"processes": 0}, jobs.ERR_PROCESSES),
        ({"hyperparameters": {"max_steps": "many"}}, "'many' is not a number"),
        ({"hyperparameters": {"lr": "1"}}, "not a field of this method"),
        ({"hyperparameters": {"max_steps": "0"}}, "max_steps must be >= 1"),
        ({"snapshots": []}, engine_config.ERR_NO_SNAPSHOT),
    ],
)
def test_bad_submissions_are_refused_and_write_nothing(overrides, message, no_broker):
    with pytest.raises(ApplicationError) as info:
        submit(**overrides)
    assert message in " ".join(info.value.messages)
    assert not TrainingJob.objects.exists() and no_broker == []


def test_base_model_must_be_a_registered_base():
    rm = factories.base_model(name="some-rm")
    rm.method = "rm"
    rm.save()
    with pytest.raises(ApplicationError, match="method 'base'"):
        submit(base_model=rm)


def test_same_budget_copies_budget_keys_only():
    first = submit(hyperparameters={"max_steps": "5", "per_device_batch_size": "4", "learning_rate": "0.01"})
    second = submit(budget_from=first)
    assert second.config["max_steps"] == 5 and second.config["per_device_batch_size"] == 4
    assert "learning_rate" not in second.config  # how it learns stays the method's own (its preset's)


def test_same_budget_counts_grpo_completions_not_prompts():
    """GRPO answers each prompt num_generations times: a REPO run of 8 prompts x 1 reply per step and a
    GRPO run copied from it consume the same 8 replies per step, not 8 x the group."""
    first = submit(hyperparameters={"max_steps": "5", "per_device_batch_size": "8"})
    grpo = submit(method="grpo", budget_from=first, hyperparameters={"num_generations": "4"})
    assert grpo.config["max_steps"] == 5
    assert grpo.config["per_device_batch_size"] * grpo.config["num_generations"] == 8
    assert grpo.config["per_device_batch_size"] == 2
    # No group chosen: the largest up to the engine's default (8) that divides the budget.
    default = submit(method="grpo", budget_from=first)
    assert default.config["per_device_batch_size"] == 1 and default.config["num_generations"] == 8
    # And back: a REPO run copied from the GRPO run gets its 8 replies as 8 prompts.
    back = submit(budget_from=grpo)
    assert back.config["per_device_batch_size"] == 8
    with pytest.raises(ApplicationError, match="not a multiple"):
        submit(method="grpo", budget_from=first, hyperparameters={"num_generations": "3"})


def many_prompts(rows: int = 100):
    snap = factories.snapshot(kind="prompts", rows=1, name="many")
    folder = Path(settings.ARTIFACTS_ROOT) / "test-snapshots" / "many"
    folder.mkdir(parents=True, exist_ok=True)
    row = json.loads(Path(snap.path).read_text())
    lines = [json.dumps({**row, "prompt": [{"role": "user", "content": f"turn {i}"}]}) for i in range(rows)]
    (folder / "data.jsonl").write_text("".join(line + "\n" for line in lines))
    snap.path = str(folder / "data.jsonl")
    snap.save()
    return snap


def test_platform_ppo_and_repo_jobs_get_a_probe_set():
    """The dashboard's jobs had no probe_dataset (and no eval_dataset), so /eval/probe/ stayed empty."""
    job = submit(snapshots=[many_prompts()])
    probe = Path(job.config["probe_dataset"])
    rows = [json.loads(line) for line in probe.read_text().splitlines()]
    assert len(rows) == snapshots.PROBE_ROWS and {"prompt", "task"} <= set(rows[0])
    assert not os.access(probe, os.W_OK) or os.geteuid() == 0  # frozen like a snapshot
    again = submit(snapshots=[many_prompts()])
    assert again.config["probe_dataset"] == job.config["probe_dataset"]  # same snapshots, same probe
    grpo = submit(method="grpo")
    assert grpo.config.get("probe_dataset") is None  # GRPO's trainer has no probe


def test_the_preset_is_decided_on_the_worker_that_claims_the_job(settings, monkeypatch):
    # The web host has a GPU: that must not matter, the job is not going to run here.
    monkeypatch.setattr(engine_config.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    job = submit(hyperparameters={"max_steps": "3", "lora_r": ""})  # "" = whatever the preset says
    assert job.preset == "auto" and job.config["max_steps"] == 3 and "lora_r" not in job.config
    claim = job_claim(job_id=job.pk, owner="w")
    monkeypatch.setattr(engine_config.shutil, "which", lambda name: None)  # the GPU worker... is a CPU box
    settings.PARLEY_PRESET = "auto"
    runner.job_preset_resolve(job=claim.row, owner="w")
    stored = TrainingJob.objects.get(pk=job.pk)
    assert stored.preset == "tiny" and stored.config["lora_r"] == 8 and stored.config["max_steps"] == 3
    tiny = engine_config.hyperparameter_defaults(method="repo", preset="tiny")
    assert stored.config["learning_rate"] == tiny["learning_rate"] and stored.config["method"] == "repo"
    settings.PARLEY_PRESET = "paper"  # a resumed attempt elsewhere keeps what the first one decided
    assert runner.job_preset_resolve(job=stored, owner="w").config == stored.config


def test_a_worker_can_pin_the_preset_and_a_job_can_name_one(settings):
    settings.PARLEY_PRESET = "paper"
    assert engine_config.preset_for_this_worker() == "paper"
    named = submit(preset="tiny")
    assert named.preset == "tiny" and named.config["lora_r"] == 8  # complete at submission
    with pytest.raises(ApplicationError, match="Unknown preset 'huge'"):
        submit(preset="huge")


def test_transitions_are_guarded():
    job = submit()
    with pytest.raises(InvalidTransition, match="A queued training job cannot become succeeded"):
        row_transition(model=TrainingJob, pk=job.pk, to=Status.SUCCEEDED)
    done = row_transition(model=TrainingJob, pk=job.pk, to=Status.CANCELLED)
    assert done.finished_at
    with pytest.raises(ApplicationError, match="already finished"):
        jobs.job_cancel(job=done)


def test_claim_starts_a_queued_job_once_and_leaves_a_running_one_to_the_sweep(settings):
    settings.PARLEY_LEASE_S = 30
    job = submit()
    first = job_claim(job_id=job.pk, owner="a")
    assert first.action == Action.START and first.row.attempts == 1 and first.row.lease_owner == "a"
    assert first.row.started_at and first.row.worker_host and first.row.worker_pid
    assert job_claim(job_id=job.pk, owner="b").action == Action.BUSY
    # Its worker died: even with a stale heartbeat a delivery does not take it over; the sweep requeues it.
    TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31), engine_pid=123)
    assert job_claim(job_id=job.pk, owner="b").action == Action.BUSY
    row_transition(model=TrainingJob, pk=job.pk, to=Status.QUEUED)
    second = job_claim(job_id=job.pk, owner="b")
    assert second.action == Action.START and second.row.attempts == 2 and second.previous_pid == 123
    row_transition(model=TrainingJob, pk=job.pk, to=Status.SUCCEEDED)
    assert job_claim(job_id=job.pk, owner="c").action == Action.SKIP


def test_claim_defers_to_a_higher_priority_job_and_honours_a_cancel():
    low, high = submit(name="low"), submit(name="high")
    jobs.job_reprioritise(job=high, priority=5)
    assert job_claim(job_id=low.pk, owner="w").action == Action.DEFER
    assert job_claim(job_id=high.pk, owner="w").action == Action.START
    jobs.job_cancel(job=low)
    assert job_claim(job_id=low.pk, owner="w").action == Action.SKIP
    jobs.job_cancel(job=TrainingJob.objects.get(pk=high.pk))  # running: only flagged
    assert TrainingJob.objects.get(pk=high.pk).status == Status.RUNNING


@pytest.fixture
def demo_world(db):
    from annotation.services.demo import demo_world_seed

    return demo_world_seed(scale=6, seed=0, password="x-demo-password")


def test_snapshot_freezes_an_export_immutably_and_moves_bad_cases(demo_world, role_users):
    reviewed = BadCase.objects.exclude(gold_reply="").first()
    assert reviewed is not None, "the demo world should hold bad cases with gold replies"
    BadCase.objects.filter(pk=reviewed.pk).update(status=BadCase.Status.REVIEWED)
    snap = snapshots.snapshot_create(name="sft v1", kind="sft", created_by=role_users["ml_engineer"])
    path = Path(snap.path)
    assert snap.sha256 == snapshots.sha256_file(path) and path.parent.name == snap.sha256
    assert snap.row_count == len(path.read_text().splitlines()) > 0
    assert sum(snap.counts_by_provenance.values()) == snap.row_count
    assert not os.access(path, os.W_OK) or os.geteuid() == 0  # read-only (root ignores the mode)
    assert oct(path.stat().st_mode & 0o777) == "0o444"
    assert snap.bad_cases.filter(pk=reviewed.pk).exists()
    assert BadCase.objects.get(pk=reviewed.pk).status == BadCase.Status.IN_DATASET
    first_row = json.loads(path.read_text().splitlines()[0])
    assert set(first_row) == {"prompt", "completion"}


def test_preference_snapshot_links_its_pairs(demo_world):
    snap = snapshots.snapshot_create(name="prefs", kind="preference", filters={"provenance": ["bd_expert"]})
    assert snap.pairs.count() == snap.row_count > 0
    assert set(snap.counts_by_provenance) == {"bd_expert"}


def test_snapshot_refuses_empty_and_bad_filters(demo_world):
    with pytest.raises(ApplicationError, match="matched no rows"):
        snapshots.snapshot_create(name="none", kind="preference", filters={"provenance": ["nobody"]})
    with pytest.raises(ApplicationError, match="rejected these filters"):
        snapshots.snapshot_create(name="bad", kind="sft", filters={"colour": "blue"})
    with pytest.raises(ApplicationError, match="Unknown snapshot kind"):
        snapshots.snapshot_create(name="bad", kind="csv")
