"""Studies: launch (equal budgets in completions, GRPO's rule, hostile input writes nothing), the
automatic metrics the page shows, eval runs queued as jobs register versions, and the pages' roles."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evaluation.models import EvalRun, Response, Study
from evaluation.selectors.studies import study_view
from evaluation.services import studies
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.status import Status
from registry.models import ModelVersion
from tests.training_jobs import factories as job_factories
from training_jobs.models import TrainingJob
from training_jobs.services import jobs as job_services

from .factories import judge, make_set

pytestmark = pytest.mark.django_db
ALL = ["sft", "dpo", "ppo", "grpo", "repo"]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Queued messages are not the point here: record them instead of publishing."""
    sent = []
    monkeypatch.setattr(job_services, "row_enqueue", sent.append)
    monkeypatch.setattr("evaluation.services.runs.row_enqueue", sent.append)
    return sent


@pytest.fixture
def inputs():
    base = job_factories.base_model()
    rm = ModelVersion.objects.create(
        name="rm-v1", base_model=base.base_model, method="rm", kind="reward_model", adapter_path="/tmp/rm-v1"
    )
    return {
        "name": "paper comparison",
        "base_model": base,
        "snapshots": [
            job_factories.snapshot(kind="sft", name="sft rows"),
            job_factories.snapshot(kind="preference", name="pairs"),
            job_factories.snapshot(kind="prompts", name="prompts"),
        ],
        "reward_config": job_factories.reward_config(name="rm + rules", reward_model=rm),
        "methods": list(ALL),
        "budget": {"max_steps": "12", "completions_per_step": "8", "accumulation": "2", "grpo_group": "4", "seed": "3"},
        "online_set": make_set(name="online", kind="online", n=2),
        "bad_case_set": make_set(name="bad", kind="bad_case", n=2),
    }


def completions_per_step(job: TrainingJob) -> int:
    c = job.config
    group = c["num_generations"] if job.method == "grpo" else 1
    return c["per_device_batch_size"] * group * c["gradient_accumulation_steps"]


def test_launch_creates_one_job_per_method_with_equal_budgets(inputs, no_broker):
    study = studies.study_create(**inputs)
    jobs = {job.method: job for job in study.jobs.all()}
    assert sorted(jobs) == sorted(ALL) and len(no_broker) == 5
    assert {completions_per_step(j) for j in jobs.values()} == {8}
    assert {j.config["max_steps"] for j in jobs.values()} == {12}
    assert {j.config["seed"] for j in jobs.values()} == {3}
    # GRPO: 8 completions per step = 2 prompts per step x group 4 (not 8 prompts x 4 = 32 replies).
    grpo = jobs["grpo"].config
    assert (grpo["per_device_batch_size"], grpo["num_generations"], grpo["gradient_accumulation_steps"]) == (1, 4, 2)
    assert jobs["repo"].config["per_device_batch_size"] == 4
    # Each method trains on its own kind of snapshot of the set; only the RL methods get the rewards.
    assert [s.name for s in jobs["sft"].snapshots.all()] == ["sft rows"]
    assert [s.name for s in jobs["dpo"].snapshots.all()] == ["pairs"]
    assert jobs["sft"].reward_config is None and jobs["ppo"].reward_config == inputs["reward_config"]
    assert jobs["repo"].config["probe_dataset"]  # platform jobs get a probe set
    assert study.methods == ALL and AuditEvent.objects.filter(action="study.create").count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"methods": []}, studies.ERR_NO_METHODS),
        ({"methods": ["repo", "ppo", "repo"]}, "REPO is chosen twice"),
        ({"methods": ["rm"]}, "Unknown method 'rm'"),
        ({"methods": ["<script>"]}, "Unknown method '<script>'"),
        ({"budget": {"max_steps": "0", "completions_per_step": "8"}}, "Steps must be a whole number between 1"),
        ({"budget": {"max_steps": "10", "completions_per_step": "0"}}, "Completions per step must be"),
        ({"budget": {"max_steps": "1" + "0" * 30, "completions_per_step": "8"}}, "Steps must be"),
        ({"budget": {"max_steps": "10", "completions_per_step": "99999"}}, "Completions per step must be"),
        ({"budget": {"max_steps": "ten", "completions_per_step": "8"}}, "Steps must be"),
        ({"budget": {"max_steps": "10", "completions_per_step": "8", "accumulation": "3"}}, "do not split"),
        (
            {"methods": ["grpo"], "budget": {"max_steps": "10", "completions_per_step": "6", "grpo_group": "4"}},
            "not a multiple",
        ),
        ({"name": "  "}, studies.ERR_NAME),
        ({"online_set": None}, "online set must be a frozen online eval set"),
        ({"snapshots": []}, "No snapshot of the set fits SFT"),
    ],
)
def test_hostile_input_is_refused_in_words_and_writes_nothing(inputs, no_broker, change, message):
    with pytest.raises(ApplicationError, match=message):
        studies.study_create(**{**inputs, **change})
    assert not Study.objects.exists() and not TrainingJob.objects.exists() and no_broker == []


def test_a_bad_case_set_is_not_an_online_set(inputs):
    with pytest.raises(ApplicationError, match="online set"):
        studies.study_create(**{**inputs, "online_set": inputs["bad_case_set"]})


def finish(job: TrainingJob, name: str) -> ModelVersion:
    version = ModelVersion.objects.create(name=name, base_model=job.config["base_model"], method=job.method)
    TrainingJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, output_model=version)
    return version


def test_versions_are_evaluated_on_both_sets_as_jobs_finish(inputs):
    study = studies.study_create(**{**inputs, "methods": ["ppo", "repo"]})
    first = studies.study_advance(study=study)  # the start policy, before any job ends
    assert len(first) == 2 and {r.eval_set_id for r in first} == {inputs["online_set"].pk, inputs["bad_case_set"].pk}
    assert studies.study_advance(study=study) == []  # idempotent
    repo = study.jobs.get(method="repo")
    finish(repo, "study-repo-v1")
    runs = studies.study_advance(study=study)
    assert len(runs) == 2 and all(r.systems.get().model_version.name == "study-repo-v1" for r in runs)
    assert studies.studies_advance() == 0
    finish(study.jobs.get(method="ppo"), "study-ppo-v1")
    assert studies.studies_advance() == 2 and study.eval_runs.count() == 6
    # The RM of the reward configuration scores the eval replies too.
    assert {r.rm_dir for r in EvalRun.objects.all()} == {"/tmp/rm-v1"}


def run_done(run: EvalRun, *, broken_every: int, judge_deducts_on: int) -> None:
    """What a finished eval run leaves: a reply per item and turn with its pre-scores (item i breaks a rule
    when i % broken_every == 0; the judge deducts on item judge_deducts_on)."""
    EvalRun.objects.filter(pk=run.pk).update(status=Status.SUCCEEDED)
    system = run.systems.get()
    for i, item in enumerate(run.eval_set.items.order_by("id")):
        for turn in item.turns:
            broken = i % broken_every == 0
            Response.objects.create(
                item=item,
                system=system,
                turn=turn,
                text="x",
                prescores={
                    "rf_violations": ["internal_term_leak"] if broken else [],
                    "rf_points": -40.0 if broken else 0.0,
                    "judge_points": -10.0 if i == judge_deducts_on else 0.0,
                    "rm_score": 1.0,
                },
            )


def test_automatic_metrics_with_intervals_and_the_fix_proxy(inputs):
    inputs["online_set"] = make_set(name="online-6", kind="online", n=6)
    inputs["bad_case_set"] = make_set(name="bad-6", kind="bad_case", n=6)
    study = studies.study_create(**{**inputs, "methods": ["repo"]})
    finish(study.jobs.get(), "study-repo-v1")
    runs = studies.study_advance(study=study)
    for run in runs:
        run_done(run, broken_every=3, judge_deducts_on=1)
    view = study_view(study=study)
    repo = next(r for r in view["rows"] if r["method"] == "repo")
    online, bad = repo["sets"]["online"]["metrics"], repo["sets"]["bad_case"]["metrics"]
    assert online["values"]["violation_rate"] == pytest.approx(100 * 2 / 6)
    assert online["values"]["judge_deduction_rate"] == pytest.approx(100 / 6)
    assert online["rules"] == {"internal_term_leak": pytest.approx(100 * 2 / 6)}
    lo, hi = online["ci"]["violation_rate"]
    assert lo <= online["values"]["violation_rate"] <= hi and hi > lo
    # R_total as the trainer computes it: 1 x (1 + (-40) / 100) on a broken item, 1 on a clean one.
    assert online["values"]["r_total"] == pytest.approx((2 * 0.6 + 0.9 + 3 * 1.0) / 6)
    # Fixed = no rule broken and no judge deduction: items 2, 4, 5.
    assert bad["values"]["fix_proxy"] == pytest.approx(50.0)
    assert "fix_proxy" not in [k for k, _ in view["columns"]["online"]]
    assert view["chart"]["labels"] == ["start", "REPO"]
    assert view["chart"]["violation"][1] == pytest.approx(100 * 2 / 6)
    assert view["human"] == {}
    repo_system = next(r for r in runs if r.systems.get().model_version.method == "repo").systems.get()
    judge(inputs["online_set"].items.first(), repo_system, "expert", consensus=True, rating=4)
    assert study_view(study=study)["human"]["online"]["rows"][0]["label"] == "REPO"


def test_pages_are_for_ml_engineers_and_admins(client_for, inputs):
    study = studies.study_create(**{**inputs, "methods": ["repo"]})
    for role in ("ml_engineer", "admin"):
        client = client_for(role)
        assert client.get(reverse("evaluation:study_list")).status_code == 200
        page = client.get(reverse("evaluation:study_detail", args=[study.pk])).content.decode()
        assert "AUTOMATIC metrics" in page and "evaluation/study.js" in page and "<script>" not in page
        live = client.get(reverse("evaluation:study_live", args=[study.pk]))
        assert live.status_code == 200 and live["X-Study-Settled"] == "0"
    for role in ("evaluator", "reviewer", "bd_expert", "language_expert"):
        client = client_for(role)
        for name, args in (("study_list", []), ("study_new", []), ("study_detail", [study.pk])):
            assert client.get(reverse(f"evaluation:{name}", args=args)).status_code == 403


def test_the_form_launches_and_refuses_in_words(client_for, inputs, no_broker):
    client = client_for("ml_engineer")
    form = client.get(reverse("evaluation:study_new")).content.decode()
    assert 'name="completions_per_step"' in form and "csrfmiddlewaretoken" in form
    data = {
        "name": "from the form",
        "base_model": inputs["base_model"].pk,
        "snapshots": [s.pk for s in inputs["snapshots"]],
        "reward_config": inputs["reward_config"].pk,
        "methods": ["repo", "repo"],
        "max_steps": "5",
        "completions_per_step": "4",
        "online_set": inputs["online_set"].pk,
        "bad_case_set": inputs["bad_case_set"].pk,
    }
    refused = client.post(reverse("evaluation:study_new"), data)
    assert refused.status_code == 400 and "REPO is chosen twice" in refused.content.decode()
    hostile = ({"methods": []}, {"max_steps": "0"}, {"max_steps": "9" * 40}, {"base_model": "nope"})
    for bad in (*hostile, {"reward_config": "9" * 80}):
        response = client.post(reverse("evaluation:study_new"), {**data, "methods": ["repo"], **bad})
        assert response.status_code == 400, bad
    assert not Study.objects.exists() and no_broker == []
    done = client.post(reverse("evaluation:study_new"), {**data, "methods": ["ppo", "repo"]})
    study = Study.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("evaluation:study_detail", args=[study.pk])
    assert sorted(study.jobs.values_list("method", flat=True)) == ["ppo", "repo"]
