"""Generated alternatives at a branch: validation before any write, the engine subprocess (a fake one for
the contract, the real engine and tiny model on the real Celery worker), candidates with exactly the
shared prefix, pairwise items, failures recorded on the row, and the branch page."""

import json
import re
import time
from pathlib import Path

import pytest
from django.urls import reverse

from annotation.models import AnnotationItem, BranchGeneration, Candidate
from annotation.services import branching
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from registry.models import ModelVersion
from tests.annotation.factories import make_dialogue, make_queue, make_world
from tests.fixtures.workers import QUEUE, process_gone, wait_for

pytestmark = pytest.mark.django_db
SAME_REPLY = "Could you do 700 <b>tonight</b>?"  # the fake engine's reply to every row


@pytest.fixture
def world(db):
    return make_world()


@pytest.fixture
def dialogue(world):
    return make_dialogue(world)  # system, agent, hotel, agent (two candidates at 3), hotel, agent


@pytest.fixture
def version(fake_engine):
    return ModelVersion.objects.create(name="fake-v1", base_model=str(fake_engine.home), method="sft")


def request(dialogue, version, *, actor=None, **overrides):
    options = {"turn": 3, "count": 2, "temperature": 0.8, "max_new_tokens": 64, "queue": None, **overrides}
    return branching.branch_generate_request(dialogue=dialogue, model_version=version, actor=actor, **options)


# ---------------------------------------------------------------------------------------------------
# the request
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"turn": 2}, branching.BAD_TURN),  # the hotel's turn
        ({"turn": 6}, branching.BAD_TURN),  # past the end (the agent spoke last)
        ({"count": 0}, branching.BAD_COUNT),
        ({"count": 5}, branching.BAD_COUNT),
        ({"count": None}, branching.BAD_COUNT),
        ({"temperature": 3}, branching.BAD_TEMPERATURE),
        ({"temperature": -0.1}, branching.BAD_TEMPERATURE),
        ({"max_new_tokens": 8}, branching.BAD_MAX_NEW_TOKENS),
        ({"max_new_tokens": 513}, branching.BAD_MAX_NEW_TOKENS),
    ],
)
def test_request_refuses_bad_input_and_writes_nothing(dialogue, version, overrides, message):
    with pytest.raises(ApplicationError, match=re.escape(message)):
        request(dialogue, version, **overrides)
    assert not BranchGeneration.objects.exists()
    assert not AuditEvent.objects.filter(object_type="annotation.branchgeneration").exists()


def test_request_refuses_a_queue_of_another_project_or_kind_and_a_missing_model(world, dialogue, version):
    other_project = make_queue(make_world(), dialogues=1)
    rubric = make_queue(world, kind="rubric", dialogues=0)
    for queue in (other_project, rubric):
        with pytest.raises(ApplicationError, match=re.escape(branching.NOT_PAIRWISE)):
            request(dialogue, version, queue=queue)
    with pytest.raises(ApplicationError, match=re.escape(branching.NO_MODEL)):
        request(dialogue, None)
    assert not BranchGeneration.objects.exists()


def test_request_writes_a_queued_audited_row_and_enqueues_it_on_gpu_after_commit(
    dialogue, version, role_users, monkeypatch, django_capture_on_commit_callbacks
):
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        generation = request(dialogue, version, actor=role_users["bd_expert"], count=3, temperature=1.5)
    assert sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert sent == [("annotation.branch_generate_execute", {"args": [generation.pk], "queue": "gpu"})]
    generation.refresh_from_db()
    assert (generation.status, generation.count, generation.temperature) == ("queued", 3, 1.5)
    assert generation.requested_by == role_users["bd_expert"]
    event = AuditEvent.objects.get(object_type="annotation.branchgeneration", object_id=str(generation.pk))
    assert event.action == "create" and event.actor == role_users["bd_expert"]


# ---------------------------------------------------------------------------------------------------
# execution through the engine subprocess (fake engine: the contract)
# ---------------------------------------------------------------------------------------------------
def test_execute_stores_each_reply_as_a_model_candidate_with_the_shared_prefix(
    world, dialogue, version, fake_engine, settings
):
    queue = make_queue(world, dialogues=0)
    items_before = AnnotationItem.objects.filter(queue=queue).count()
    there = Candidate.objects.filter(dialogue=dialogue, turn=3).order_by("id").first()
    generation = branching.branch_generate_execute(generation=request(dialogue, version, queue=queue))

    assert generation.status == "succeeded", generation.error
    assert generation.metrics == {"seed": generation.pk, "rows": 2, "distinct": 2, "dropped": 0}
    made = list(Candidate.objects.filter(generation=generation).order_by("id"))
    assert [c.text for c in made] == ["Reply 0: could you do 700?", "Reply 1: could you do 701?"]
    assert {(c.source, c.model_version_id, c.model_name, c.turn) for c in made} == {("model", version.pk, "fake-v1", 3)}
    assert [c.key for c in made] == [f"gen{generation.pk}:0", f"gen{generation.pk}:1"]

    assert Path(generation.run_dir) == settings.ARTIFACTS_ROOT / "annotation" / f"generation-{generation.pk}"
    rows = [json.loads(line) for line in (Path(generation.run_dir) / "prompts.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"gen{generation.pk}:0", f"gen{generation.pk}:1"]
    messages = list(dialogue.messages.order_by("index"))
    prompt = rows[0]["prompt"]
    assert rows[1]["prompt"] == prompt and prompt[0]["role"] == "system" and len(prompt) == 1 + 3
    # exactly messages[:3] after the system prompt (the dialogue's own system line becomes a noted user turn)
    assert [m["content"] for m in prompt[2:]] == [m.content for m in messages[1:3]]
    assert prompt[-1] == {"role": "user", "content": "Sure, what do you need?"}
    assert not any("780" in m["content"] and m["role"] != "system" for m in prompt)  # turn 3 itself is not in it

    argv = fake_engine.last_args()
    assert argv[argv.index("--temperature") + 1] == "0.8" and argv[argv.index("--seed") + 1] == str(generation.pk)
    assert argv[argv.index("--max-new-tokens") + 1] == "64" and "--adapter" not in argv

    items = AnnotationItem.objects.filter(queue=queue).order_by("id")[items_before:]
    assert [(i.candidate_a_id, i.candidate_b_id, i.turn) for i in items] == [(there.pk, c.pk, 3) for c in made]
    assert AuditEvent.objects.filter(object_type="annotation.candidate", action="create").count() == 2


def test_identical_replies_are_kept_once_and_the_row_says_so(world, dialogue, version, fake_engine, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_REPLY", SAME_REPLY)
    queue = make_queue(world, dialogues=0)
    version.adapter_path = str(fake_engine.home / "adapter")
    version.save()
    generation = branching.branch_generate_execute(generation=request(dialogue, version, count=4, queue=queue))
    assert generation.status == "succeeded", generation.error
    assert generation.metrics["rows"] == 4 and generation.metrics["distinct"] == 1
    assert generation.metrics["dropped"] == 3
    assert generation.candidates.count() == 1
    assert AnnotationItem.objects.filter(queue=queue, candidate_b__generation=generation).count() == 1
    argv = fake_engine.last_args()
    assert argv[argv.index("--adapter") + 1] == str(fake_engine.home / "adapter")


def test_a_failing_engine_fails_the_row_with_its_log_tail_and_writes_no_candidate(
    world, dialogue, version, fake_engine, monkeypatch
):
    monkeypatch.setenv("FAKE_ENGINE_FAIL", "Traceback: boom, the weights are gone")
    queue = make_queue(world, dialogues=0)
    items_before = AnnotationItem.objects.count()
    generation = branching.branch_generate_execute(generation=request(dialogue, version, queue=queue))
    assert generation.status == "failed" and generation.finished_at and generation.worker_host
    assert "exited with 2" in generation.error and "boom, the weights are gone" in generation.error
    assert not Candidate.objects.filter(generation=generation).exists()
    assert AnnotationItem.objects.count() == items_before
    with pytest.raises(ApplicationError, match=re.escape(branching.NOT_QUEUED)):
        branching.branch_generate_execute(generation=generation)


# ---------------------------------------------------------------------------------------------------
# the branch page
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["ml_engineer", "evaluator"])
def test_generate_form_needs_the_branch_roles(client_for, dialogue, version, role):
    client = client_for(role)
    assert client.get(reverse("annotation:branch", args=[dialogue.pk, 3])).status_code == 403
    url = reverse("annotation:branch_generate", args=[dialogue.pk, 3])
    response = client.post(url, {"model_version": version.pk, "count": 2, "temperature": 0.8, "max_new_tokens": 64})
    assert response.status_code == 403
    assert not BranchGeneration.objects.exists()


def test_branch_page_without_a_model_version_says_to_register_one(client_for, dialogue):
    html = client_for("language_expert").get(reverse("annotation:branch", args=[dialogue.pk, 3])).content.decode()
    # the registry link only for roles that may open it (a language expert is told who registers one)
    assert "No model version is registered yet" in html and "an ML engineer registers one" in html
    assert reverse("registry:model_list") not in html
    assert "once the deploy app serves models" not in html


def test_generate_from_the_branch_page(client_for, world, dialogue, version, fake_engine, monkeypatch):
    client = client_for("bd_expert")
    page = reverse("annotation:branch", args=[dialogue.pk, 3])
    url = reverse("annotation:branch_generate", args=[dialogue.pk, 3])
    html = client.get(page).content.decode()
    assert "Generate alternatives" in html and f'<option value="{version.pk}"' in html and "csrfmiddlewaretoken" in html

    bad = client.post(url, {"model_version": version.pk, "count": 9, "temperature": 0.8, "max_new_tokens": 64})
    assert bad.status_code == 400 and branching.BAD_COUNT in bad.content.decode()
    bad = client.post(url, {"model_version": version.pk, "count": "two", "temperature": 0.8, "max_new_tokens": 64})
    assert bad.status_code == 400 and branching.BAD_COUNT in bad.content.decode()
    other = make_queue(make_world(), dialogues=1)
    data = {"model_version": version.pk, "count": 2, "temperature": 0.8, "max_new_tokens": 64, "queue": other.pk}
    bad = client.post(url, data)
    assert bad.status_code == 400 and branching.NOT_PAIRWISE in bad.content.decode()
    assert not BranchGeneration.objects.exists()

    monkeypatch.setenv("FAKE_ENGINE_REPLY", SAME_REPLY)  # the reply carries markup: it must come back escaped
    response = client.post(url, {**data, "queue": ""})
    assert response.status_code == 302 and response["Location"] == page
    generation = BranchGeneration.objects.get()
    pending = client.get(page, HTTP_HX_REQUEST="true").content.decode()
    assert "Queued" in pending and 'hx-trigger="every 3s"' in pending and "<form" not in pending

    branching.branch_generate_execute(generation=generation)
    done = client.get(page).content.decode()
    assert "Succeeded" in done and "every 3s" not in done
    assert "Could you do 700 &lt;b&gt;tonight&lt;/b&gt;?" in done and "<b>tonight</b>" not in done
    assert "1 of 2 replies were empty or repeated" in done


# ---------------------------------------------------------------------------------------------------
# the real engine
# ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_bad_base_model_path_fails_with_the_engines_log_tail(dialogue, settings, tmp_path):
    settings.ARTIFACTS_ROOT = tmp_path
    version = ModelVersion.objects.create(name="gone", base_model=str(tmp_path / "no-such-model"))
    generation = branching.branch_generate_execute(generation=request(dialogue, version))
    assert generation.status == "failed"
    assert "engine generate exited with" in generation.error and "no-such-model" in generation.error
    assert not Candidate.objects.filter(generation=generation).exists()


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_tiny_model_alternatives_on_the_real_worker(celery_worker, tiny_model):
    world = make_world()
    dialogue = make_dialogue(world)
    queue = make_queue(world, dialogues=0)
    there = Candidate.objects.filter(dialogue=dialogue, turn=3).order_by("id").first()
    version = ModelVersion.objects.create(name="tiny-base", base_model=str(tiny_model), method="base")
    generation = request(dialogue, version, queue=queue, count=2, temperature=1.0, max_new_tokens=16)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        generation.refresh_from_db()
        if generation.status in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert generation.status == "succeeded", generation.error or celery_worker[1].read_text()[-3000:]
    made = list(generation.candidates.order_by("id"))
    assert len(made) == 2 and made[0].text != made[1].text, generation.metrics
    assert all(c.source == "model" and c.model_version == version and c.turn == 3 for c in made)
    items = AnnotationItem.objects.filter(queue=queue, candidate_b__in=made)
    assert items.count() == 2 and {i.candidate_a_id for i in items} == {there.pk}
    prompts = [json.loads(line) for line in (Path(generation.run_dir) / "prompts.jsonl").read_text().splitlines()]
    history = [m.content for m in dialogue.messages.order_by("index")[1:3]]
    assert all([m["content"] for m in row["prompt"][2:]] == history for row in prompts)


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_generation_whose_worker_is_sigkilled_is_recovered_by_the_sweep(start_worker, fake_engine):
    """The worker dies mid-generation: the page would poll forever if nothing swept. The lease lapses, the
    next worker's sweep queues the generation again, and it ends with its candidates on attempt 2."""
    world = make_world()
    dialogue = make_dialogue(world)
    version = ModelVersion.objects.create(name="fake-v1", base_model="/models/fake", method="sft")
    first = start_worker(generate_s=120)
    generation = request(dialogue, version, worker_queue=QUEUE)
    engine_pid = wait_for(lambda: BranchGeneration.objects.get(pk=generation.pk).engine_pid, timeout=60, what="start")
    wait_for(lambda: fake_engine.calls(), timeout=60, what="the engine to begin generating")  # mid-generation
    first.kill()
    wait_for(lambda: process_gone(engine_pid), timeout=5, what="the engine to die with its worker")

    second = start_worker()
    done = wait_for(
        lambda: (g := BranchGeneration.objects.get(pk=generation.pk)).is_terminal and g, timeout=90, what="recovery"
    )
    assert done.status == "succeeded", done.error + second.text()[-3000:]
    assert done.attempts == 2 and done.metrics["distinct"] == 2 and not done.error
    assert done.candidates.count() == 2
