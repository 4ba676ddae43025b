"""The status-row base (kernel.status) and the sweep (kernel.sweep) on a real model (EvalRun): guarded
claim, heartbeat and finish; a delivery never starts a running row; the sweep gives a lapsed row back to
its queue, fails it in words after its last attempt, completes a requested cancel, and leaves live rows
alone. Every status-row model is swept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from evaluation.models import EvalRun
from kernel.status import (
    Action,
    InvalidTransition,
    LeaseLost,
    Status,
    row_beat,
    row_claim,
    row_finish,
    row_transition,
)
from kernel.sweep import ERR_CANCELLED, rows_sweep, status_row_models
from tests.evaluation.factories import make_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return EvalRun.objects.create(eval_set=make_set(n=0))


@pytest.fixture
def sent(monkeypatch):
    """Tasks the sweep sends (on commit, run at once here)."""
    calls = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: calls.append((name, kw)))
    return calls


def now(run: EvalRun) -> EvalRun:
    return EvalRun.objects.get(pk=run.pk)


def test_claim_takes_the_lease_once(run):
    claim = row_claim(model=EvalRun, pk=run.pk, owner="w1:1:t", run_dir="/runs/1")
    row = claim.row
    assert claim.action == Action.START and row.status == Status.RUNNING and row.run_dir == "/runs/1"
    assert (row.lease_owner, row.attempts) == ("w1:1:t", 1) and row.worker_host and row.worker_pid
    assert row.heartbeat_at and row.started_at
    assert row_claim(model=EvalRun, pk=run.pk, owner="w2:2:t").action == Action.BUSY  # a redelivery
    row_finish(row=row, owner="w1:1:t", to=Status.SUCCEEDED)
    assert row_claim(model=EvalRun, pk=run.pk, owner="w2:2:t").action == Action.SKIP


def test_a_cancel_requested_before_the_start_wins(run):
    EvalRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    claim = row_claim(model=EvalRun, pk=run.pk, owner="w")
    assert claim.action == Action.SKIP and claim.row.status == Status.CANCELLED and claim.row.finished_at


def test_beat_renews_the_lease_and_raises_once_it_is_lost(run):
    row = row_claim(model=EvalRun, pk=run.pk, owner="w1").row
    EvalRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert row_beat(row=row, owner="w1", engine_pid=42) is False
    assert now(run).engine_pid == 42 and timezone.now() - now(run).heartbeat_at < timedelta(seconds=5)
    EvalRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert row_beat(row=row, owner="w1") is True
    with pytest.raises(LeaseLost, match="no longer held by w2"):
        row_beat(row=row, owner="w2")


def test_finish_is_guarded(run):
    with pytest.raises(LeaseLost):  # never claimed
        row_finish(row=run, owner="w1", to=Status.SUCCEEDED)
    row = row_claim(model=EvalRun, pk=run.pk, owner="w1").row
    with pytest.raises(LeaseLost):
        row_finish(row=row, owner="someone else", to=Status.FAILED)
    with pytest.raises(InvalidTransition, match="A running eval run cannot become queued"):
        row_finish(row=row, owner="w1", to=Status.QUEUED)
    EvalRun.objects.filter(pk=run.pk).update(metrics={"seed": 7})
    done = row_finish(row=row, owner="w1", to=Status.SUCCEEDED, metrics={"responses": 2})
    assert done.metrics == {"seed": 7, "responses": 2} and done.finished_at and done.lease_owner == ""
    with pytest.raises(LeaseLost):  # twice
        row_finish(row=row, owner="w1", to=Status.FAILED)
    with pytest.raises(InvalidTransition, match="A succeeded eval run cannot become running"):
        row_transition(model=EvalRun, pk=run.pk, to=Status.RUNNING)


def test_the_sweep_requeues_a_lapsed_row_and_sends_its_task_again(
    run, sent, settings, django_capture_on_commit_callbacks
):
    settings.PARLEY_LEASE_S = 60
    row_claim(model=EvalRun, pk=run.pk, owner="w1")
    EvalRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61), worker_host="gpu-7")
    with django_capture_on_commit_callbacks(execute=True):
        report = rows_sweep()
    assert report.requeued == [f"evaluation.evalrun:{run.pk}"]
    row = now(run)
    assert row.status == Status.QUEUED and row.lease_owner == "" and row.attempts == 1
    assert "stopped responding" in row.error and "gpu-7" in row.error and "attempt 2 of 3" in row.error
    assert sent == [("evaluation.eval_run_execute", {"args": [run.pk], "queue": "gpu"})]
    claim = row_claim(model=EvalRun, pk=run.pk, owner="w2")  # the next delivery starts it again
    assert claim.action == Action.START and claim.row.attempts == 2 and claim.previous_host == "gpu-7"


def test_the_sweep_fails_a_row_after_its_last_attempt_in_words(run, sent, settings):
    settings.PARLEY_MAX_ATTEMPTS = 2
    row_claim(model=EvalRun, pk=run.pk, owner="w1")
    EvalRun.objects.filter(pk=run.pk).update(attempts=2, heartbeat_at=timezone.now() - timedelta(hours=1))
    assert rows_sweep().failed == [f"evaluation.evalrun:{run.pk}"]
    row = now(run)
    assert row.status == Status.FAILED and row.finished_at and not sent
    assert row.error.startswith("Its worker stopped responding") and "2 attempts" in row.error


def test_the_sweep_completes_a_cancel_whose_worker_died(run):
    row_claim(model=EvalRun, pk=run.pk, owner="w1")
    EvalRun.objects.filter(pk=run.pk).update(cancel_requested=True, heartbeat_at=timezone.now() - timedelta(hours=1))
    assert rows_sweep().cancelled == [f"evaluation.evalrun:{run.pk}"]
    assert (now(run).status, now(run).error) == (Status.CANCELLED, ERR_CANCELLED)


def test_the_sweep_leaves_live_and_queued_rows_alone_and_catches_rows_that_never_beat(run, sent, settings):
    settings.PARLEY_LEASE_S = 60
    row_claim(model=EvalRun, pk=run.pk, owner="w1")
    queued = EvalRun.objects.create(eval_set=run.eval_set)
    assert not rows_sweep() and now(run).status == Status.RUNNING
    # A row left running by a worker from before leases existed: no heartbeat, started long ago.
    EvalRun.objects.filter(pk=run.pk).update(heartbeat_at=None, started_at=timezone.now() - timedelta(days=3))
    assert rows_sweep().requeued == [f"evaluation.evalrun:{run.pk}"]
    assert now(queued).status == Status.QUEUED


def test_every_status_row_model_is_swept():
    labels = {m._meta.label for m in status_row_models()}
    assert {
        "training_jobs.TrainingJob",
        "evaluation.EvalRun",
        "annotation.BranchGeneration",
        "deploy.Deployment",
    } <= labels


def test_the_sweep_resends_a_row_queued_too_long_once_per_period(
    run, sent, settings, django_capture_on_commit_callbacks
):
    """A broker that lost the message (the filesystem broker of `make run`): the row is sent again."""
    settings.PARLEY_RESEND_QUEUED_S = 300
    assert not rows_sweep() and not sent  # just queued: left alone
    EvalRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(seconds=301))
    with django_capture_on_commit_callbacks(execute=True):
        assert rows_sweep().resent == [f"evaluation.evalrun:{run.pk}"]
    assert sent == [("evaluation.eval_run_execute", {"args": [run.pk], "queue": "gpu"})]
    with django_capture_on_commit_callbacks(execute=True):
        assert not rows_sweep()  # not again within the period
    assert len(sent) == 1 and now(run).status == Status.QUEUED
    claim = row_claim(model=EvalRun, pk=run.pk, owner="w1")  # the re-sent message starts it
    assert claim.action == Action.START


def test_production_broker_timings_recover_in_minutes():
    """Redis redelivers a dead worker's message within minutes (not the 48 h it once was)."""
    from django.conf import settings as s

    options = s.CELERY_BROKER_TRANSPORT_OPTIONS
    assert s.CELERY_TASK_ACKS_LATE
    bound = options["visibility_timeout"] + options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert bound <= 10 * 60
    assert s.PARLEY_LEASE_S + s.PARLEY_SWEEP_S <= 2 * 60
