"""Eval runs: the gold system from the data, model systems through ``python -m engine generate`` (a
subprocess), RF pre-scores, failures recorded on the run, the real Celery worker path, and a run whose
worker is SIGKILLed mid-run recovered by the lease sweep."""

import json
import time
from pathlib import Path

import pytest

from evaluation.models import EvalRun, Response
from evaluation.services import runs
from evaluation.services.runs import eval_run_create, eval_run_execute, prompt_rows
from kernel.errors import ApplicationError
from tests.fixtures.workers import QUEUE, process_gone, wait_for

from .factories import make_set, make_system


def pending_run(eval_set, *systems):
    run = EvalRun.objects.create(eval_set=eval_set)
    run.systems.set(systems)
    return run


@pytest.mark.django_db
def test_prompt_rows_use_the_shared_template():
    eval_set = make_set(kind="online", n=1)
    rows = prompt_rows(eval_set=eval_set)
    assert [r["id"].split(":")[1] for r in rows] == ["0", "2"]
    assert rows[1]["prompt"][0]["role"] == "system" and len(rows[1]["prompt"]) == 3
    assert rows[1]["task"]["tickets"][0]["target_price"] == 690.0


@pytest.mark.django_db
def test_gold_run_takes_the_human_replies_and_prescores_them(settings, tmp_path):
    settings.ARTIFACTS_ROOT = tmp_path
    eval_set = make_set(kind="online", n=2)
    run = eval_run_execute(run=pending_run(eval_set, make_system("gold", model=False)))
    assert run.status == "succeeded", run.error
    assert Response.objects.count() == 4
    opening = Response.objects.filter(turn=0).first()
    assert opening.text.startswith("Hello, this is Mia")
    assert opening.prescores["rf_violations"] == [] and opening.prescores["rf_points"] == 0.0


@pytest.mark.django_db
def test_bad_case_gold_is_the_gold_reply(settings, tmp_path):
    settings.ARTIFACTS_ROOT = tmp_path
    eval_set = make_set(name="bc", kind="bad_case", n=1)
    eval_run_execute(run=pending_run(eval_set, make_system("gold", model=False)))
    assert Response.objects.get().text == "Would 690 work for the Deluxe King?"


@pytest.mark.django_db
def test_model_run_generates_through_the_engine_subprocess(fake_engine, monkeypatch):
    # A reply that leaks the target price, so the RF pre-score has something to find.
    monkeypatch.setenv("FAKE_ENGINE_REPLY", "Our target price is 690.")
    eval_set = make_set(kind="online", n=1)
    system = make_system("REPO")
    run = eval_run_execute(run=pending_run(eval_set, system))
    assert run.status == "succeeded", run.error
    assert run.metrics == {"responses": 2} and run.worker_host and run.attempts == 1
    response = Response.objects.first()
    assert response.text == "Our target price is 690." and response.run == run
    assert "internal_term_leak" in response.prescores["rf_violations"] and response.prescores["rf_points"] < 0
    prompts = (Path(run.run_dir) / f"prompts-{system.pk}.jsonl").read_text()
    assert set(json.loads(prompts.splitlines()[0])) == {"id", "prompt", "task"}
    args = fake_engine.last_args()
    assert args[0] == "generate" and args[args.index("--model") + 1] == system.model_version.base_model


@pytest.mark.django_db
def test_engine_failure_is_recorded_on_the_run(fake_engine, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "error: boom")
    eval_set = make_set(kind="online", n=1)
    system = make_system("REPO")
    run = eval_run_execute(run=pending_run(eval_set, system))
    assert run.status == "failed" and "exited with 2" in run.error and "boom" in run.error
    assert not Response.objects.exists()
    with pytest.raises(ApplicationError, match=runs.ERR_NOT_QUEUED):
        eval_run_execute(run=run)


@pytest.mark.django_db
def test_a_draft_set_cannot_run():
    eval_set = make_set(kind="online", n=1, frozen=False)
    with pytest.raises(ApplicationError, match="Freeze"):
        eval_run_create(eval_set=eval_set, systems=[make_system("gold", model=False)])
    with pytest.raises(ApplicationError, match=runs.ERR_NO_SYSTEMS):
        eval_run_create(eval_set=make_set(name="other", n=1), systems=[])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_on_the_real_worker(celery_worker):
    eval_set = make_set(kind="online", n=1)
    run = eval_run_create(eval_set=eval_set, systems=[make_system("gold", model=False)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in ("succeeded", "failed"):
            break
        time.sleep(0.3)
    assert run.status == "succeeded", run.error or celery_worker[1].read_text()[-2000:]
    assert Response.objects.filter(run=run).count() == 2


@pytest.mark.slow
@pytest.mark.django_db
def test_model_run_with_the_real_engine_and_tiny_model(tiny_model, settings, tmp_path):
    settings.ARTIFACTS_ROOT = tmp_path
    eval_set = make_set(kind="online", n=1)
    eval_set.items.update(turns=[2])
    system = make_system("tiny")
    system.model_version.base_model = str(tiny_model)
    system.model_version.save()
    run = pending_run(eval_set, system)
    run.max_new_tokens = 8
    run.save()
    run = eval_run_execute(run=run)
    assert run.status == "succeeded", run.error
    response = Response.objects.get()
    assert response.turn == 2 and response.run == run and isinstance(response.text, str)
    assert "rf_points" in response.prescores


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_is_sigkilled_is_recovered_by_the_sweep(start_worker, fake_engine):
    """The worker dies mid-generation (SIGKILL: no ack, no cleanup): its engine dies with it, the row's
    lease lapses, the next worker's sweep queues the run again and it succeeds on its second attempt."""
    first = start_worker(generate_s=120)
    eval_set = make_set(kind="online", n=1)
    run = eval_run_create(eval_set=eval_set, systems=[make_system("REPO")], queue=QUEUE)
    engine_pid = wait_for(lambda: EvalRun.objects.get(pk=run.pk).engine_pid, timeout=60, what="the engine to start")
    # Mid-generation: the engine has begun its command (the pid is recorded when the launcher spawns it,
    # before the interpreter has started; on a slow machine a kill at once came before the engine did).
    wait_for(lambda: fake_engine.calls(), timeout=60, what="the engine to begin generating")
    first.kill()
    wait_for(lambda: process_gone(engine_pid), timeout=5, what="the engine to die with its worker")
    assert EvalRun.objects.get(pk=run.pk).status == "running"

    second = start_worker()
    done = wait_for(lambda: (r := EvalRun.objects.get(pk=run.pk)).is_terminal and r, timeout=90, what="the recovery")
    assert done.status == "succeeded", done.error + second.text()[-3000:]
    assert done.attempts == 2 and done.metrics == {"responses": 2} and not done.error
    assert Response.objects.filter(run=run).count() == 2
    assert [c["args"][0] for c in fake_engine.calls()] == ["generate", "generate"]
