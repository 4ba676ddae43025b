"""Dashboard pages: list, submission (prefill, budget copy, 400 on bad input), job page, compare, queue,
snapshots, model registry."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from engine.config import DPOConfig
from engine.configio import field_help
from engine.rundir import LOG_FILE
from engine.train.ppo_config import REPOConfig
from kernel.status import Status
from registry.models import ModelVersion
from registry.services import DEFAULT_BASE_NAME, base_model_default_ensure
from tests.training_jobs import factories
from training_jobs.models import DatasetSnapshot, JobMetric, JobSample, TrainingJob
from training_jobs.services import jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(jobs, "row_enqueue", lambda row: None)


@pytest.fixture
def ml(client_for):
    return client_for("ml_engineer")


def make_job(**overrides) -> TrainingJob:
    kwargs = {
        "name": "repo run",
        "method": "repo",
        "base_model": factories.base_model(),
        "snapshots": [factories.snapshot()],
        "reward_config": factories.reward_config(),
    }
    return jobs.job_create(**{**kwargs, **overrides})


def test_new_job_page_prefills_a_named_preset_and_writes_nothing(ml):
    response = ml.get(reverse("training_jobs:job_new") + "?method=rm&preset=tiny")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="hp_max_steps" value="10"' in body  # RMConfig's tiny preset
    assert "No base model is registered yet" in body and "seed_demo" in body
    assert not ModelVersion.objects.exists()  # a GET registers nothing (seed_demo does)
    base_model_default_ensure()
    assert DEFAULT_BASE_NAME in ml.get(reverse("training_jobs:job_new")).content.decode()


def test_auto_preset_leaves_the_inputs_empty_with_both_presets_shown(ml):
    body = ml.get(reverse("training_jobs:job_new") + "?method=rm").content.decode()
    assert '<option value="auto" selected>' in body and "decided by the GPU worker" in body
    assert 'name="hp_max_steps" value="" placeholder="tiny 10 · paper none"' in body
    select = 'name="hp_gradient_checkpointing" aria-describedby="hp-help-gradient_checkpointing">'
    assert select + '<option value="" selected>(tiny false · paper false)' in body


def test_each_hyperparameter_shows_the_engine_fields_help(ml):
    body = ml.get(reverse("training_jobs:job_new") + "?method=repo").content.decode()
    helps = field_help(REPOConfig)
    assert 'aria-describedby="hp-help-kl_coef"' in body
    assert f'id="hp-help-kl_coef">{escape(helps["kl_coef"])}</small>' in body
    assert escape(helps["learning_rate"]) in body
    partial = ml.get(reverse("training_jobs:job_hyperparameters") + "?method=dpo", HTTP_HX_REQUEST="true")
    assert escape(field_help(DPOConfig)["beta"]) in partial.content.decode()


def test_hyperparameter_partial_copies_the_budget_of_run_x(ml):
    source = make_job(hyperparameters={"max_steps": "7"})
    url = reverse("training_jobs:job_hyperparameters") + f"?method=grpo&budget_from={source.pk}"
    body = ml.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="hp_max_steps" value="7"' in body and "num_generations" in body
    assert ml.get(reverse("training_jobs:job_hyperparameters") + "?method=nope").status_code == 400


def test_submitting_the_form_queues_a_job(ml):
    snap, base, reward = factories.snapshot(), factories.base_model(), factories.reward_config()
    data = {
        "name": "from the form",
        "method": "repo",
        "base_model": base.pk,
        "snapshots": [snap.pk],
        "reward_config": reward.pk,
        "processes": 1,
        "queue": "gpu",
        "priority": 0,
        "hp_max_steps": "2",
    }
    response = ml.post(reverse("training_jobs:job_new"), data)
    job = TrainingJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("training_jobs:job_detail", args=[job.pk])
    assert job.status == Status.QUEUED and job.config["max_steps"] == 2


def test_bad_form_is_a_400_with_the_reason_and_writes_nothing(ml):
    data = {
        "name": "x",
        "method": "dpo",
        "base_model": factories.base_model().pk,
        "snapshots": [factories.snapshot().pk],
        "processes": 1,
        "queue": "gpu",
        "priority": 0,
    }
    response = ml.post(reverse("training_jobs:job_new"), data)
    assert response.status_code == 400
    assert "A dpo job trains on preference" in response.content.decode()
    assert not TrainingJob.objects.exists()


def test_job_page_shows_progress_charts_samples_and_escapes_model_text(ml):
    job = make_job()
    TrainingJob.objects.filter(pk=job.pk).update(progress={"step": 2, "total": 4, "fraction": 0.5, "eta_s": 12})
    JobMetric.objects.create(job=job, step=1, data={"step": 1, "loss": 0.9, "r_total": 0.1})
    JobMetric.objects.create(job=job, step=2, data={"step": 2, "loss": 0.7, "r_total": 0.3})
    JobSample.objects.create(job=job, step=2, data={"reply": "<script>alert(1)</script>", "r_model": 0.4})
    body = ml.get(reverse("training_jobs:job_detail", args=[job.pk])).content.decode()
    assert 'aria-valuenow="50"' in body and "ETA 12 s" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body
    assert '"loss": [0.9, 0.7]' in body and "vendor/chartjs/chart.umd.min.js" in body
    partial = ml.get(reverse("training_jobs:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    data = ml.get(reverse("training_jobs:job_metrics", args=[job.pk])).json()
    assert data["steps"] == [1, 2] and data["series"]["r_total"] == [0.1, 0.3]
    assert 'auto <span class="muted">(the worker that claims it decides)' in body
    TrainingJob.objects.filter(pk=job.pk).update(preset="tiny")  # what the worker resolved
    assert (
        "<tr><th>Preset</th><td>tiny</td></tr>"
        in ml.get(reverse("training_jobs:job_detail", args=[job.pk])).content.decode()
    )


def test_finished_job_partial_tells_htmx_to_stop_polling(ml):
    job = make_job()
    jobs.job_cancel(job=job)
    response = ml.get(reverse("training_jobs:job_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 286


def test_compare_overlays_curves_and_tables_final_metrics(ml):
    a, b = make_job(name="a"), make_job(name="b", method="grpo")
    for job, loss in ((a, 0.5), (b, 0.8)):
        JobMetric.objects.create(job=job, step=1, data={"loss": loss})
    body = ml.get(reverse("training_jobs:job_compare") + f"?jobs={a.pk}&jobs={b.pk}").content.decode()
    assert f"#{a.pk} REPO" in body and f"#{b.pk} GRPO" in body and "0.5000" in body and "0.8000" in body
    assert ml.get(reverse("training_jobs:job_compare")).status_code == 400


def test_queue_view_reprioritises_and_cancels(ml):
    job = make_job()
    queue_url = reverse("training_jobs:queue")
    assert "repo run" in ml.get(queue_url).content.decode()
    ml.post(reverse("training_jobs:job_priority", args=[job.pk]), {"priority": "9", "next": queue_url})
    assert TrainingJob.objects.get(pk=job.pk).priority == 9
    response = ml.post(reverse("training_jobs:job_cancel", args=[job.pk]), {"next": "https://evil.example/"})
    assert response.url == reverse("training_jobs:job_detail", args=[job.pk])
    assert TrainingJob.objects.get(pk=job.pk).status == Status.CANCELLED


def test_snapshot_page_refuses_an_empty_export(ml):
    response = ml.post(reverse("training_jobs:snapshot_list"), {"name": "empty", "kind": "preference"})
    assert response.status_code == 400 and "matched no rows" in response.content.decode()


def test_job_list_and_model_registry_pages(ml, client_for):
    job = make_job()
    assert "repo run" in ml.get(reverse("training_jobs:job_list")).content.decode()
    assert ml.get(reverse("training_jobs:job_list") + "?status=running").context["page"].paginator.count == 0
    assert ml.get(reverse("registry:model_list")).status_code == 200
    assert ml.get(reverse("registry:model_detail", args=[job.base_model_id])).status_code == 200
    assert client_for("evaluator").get(reverse("training_jobs:job_list")).status_code == 403


def test_job_page_samples_show_the_hotel_message_prompt_and_the_named_rule_with_its_evidence(ml, tmp_path):
    job = make_job()
    (tmp_path / LOG_FILE).write_text("\x1b[1;31mERROR\x1b[0m rank 0 ready\n", encoding="utf-8")
    TrainingJob.objects.filter(pk=job.pk).update(run_dir=str(tmp_path))
    JobSample.objects.create(
        job=job,
        step=3,
        data={
            "prompt": "You negotiate for the platform with Harbour View Hotel.",
            "hotel_message": "We can do 700 at most.",
            "reply": "Our work order says 690.",
            "e_func": -15.0,
            "r_total": 0.2,
            "evidence": [{"rule": "internal_term_leak", "points": -15.0, "evidence": "work order"}],
        },
    )
    JobSample.objects.create(job=job, step=2, data={"reply": "old", "prompt_text": "Hi", "rules": ["too_long"]})
    body = ml.get(reverse("training_jobs:job_detail", args=[job.pk])).content.decode()
    assert "We can do 700 at most." in body and "Harbour View Hotel" in body
    assert "<strong>internal_term_leak</strong>" in body and "<q>work order</q>" in body
    assert "Internal vocabulary" in body  # the default rule set's description, in words
    assert "E rules</span> -15.000" in body
    assert "<strong>too_long</strong>" in body  # an older sample: rule ids only
    assert "\x1b" not in body and "ERROR rank 0 ready" in body


def test_metrics_json_carries_the_panel_groups(ml):
    job = make_job()
    JobMetric.objects.create(job=job, step=1, data={"loss": 0.9, "reward/r_total": 0.1, "reward/e_judge": 0})
    data = ml.get(reverse("training_jobs:job_metrics", args=[job.pk])).json()
    assert data["groups"][0] == {"name": "reward", "metrics": ["reward/r_total"], "hidden": ["reward/e_judge"]}


def test_compare_sorts_key_metrics_first_marks_the_best_and_diffs_the_configs(ml):
    a = make_job(name="a", hyperparameters={"learning_rate": 1e-5})
    b = make_job(name="b", hyperparameters={"learning_rate": 3e-5})
    TrainingJob.objects.filter(pk=a.pk).update(metrics={"a_metric": 1.0, "loss": 0.5, "reward/r_total": 0.2})
    TrainingJob.objects.filter(pk=b.pk).update(metrics={"a_metric": 2.0, "loss": 0.7, "reward/r_total": 0.4})
    response = ml.get(reverse("training_jobs:job_compare") + f"?jobs={a.pk}&jobs={b.pk}")
    table = response.context["table"]
    assert [row["metric"] for row in table] == ["reward/r_total", "loss", "a_metric"]
    assert [row["best"] for row in table] == [1, 0, None]
    diff = {row["field"]: row["values"] for row in response.context["config_diff"]}
    assert diff["learning_rate"] == ["1e-05", "3e-05"]
    assert "method" not in diff and "rewards.n" not in diff  # identical fields are left out
    assert "0.4000 ★" in response.content.decode()


def test_cancel_asks_for_confirmation_first(ml):
    job = make_job()
    page = ml.get(reverse("training_jobs:job_cancel", args=[job.pk]))
    assert page.status_code == 200 and "Yes, cancel job" in page.content.decode()
    assert TrainingJob.objects.get(pk=job.pk).status == Status.QUEUED  # looking at the question changes nothing
    ml.post(reverse("training_jobs:job_cancel", args=[job.pk]))
    assert TrainingJob.objects.get(pk=job.pk).status == Status.CANCELLED
    assert ml.get(reverse("training_jobs:job_cancel", args=[job.pk])).status_code == 409


def test_job_list_shows_duration_and_key_metric_and_refreshes_while_jobs_run(ml):
    job = make_job()
    body = ml.get(reverse("training_jobs:job_list")).content.decode()
    assert 'hx-trigger="every 5s' in body  # a queued job: the table refreshes itself
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    TrainingJob.objects.filter(pk=job.pk).update(
        status=Status.SUCCEEDED,
        started_at=now - timedelta(seconds=125),
        finished_at=now,
        metrics={"loss": 0.5, "reward/r_total": 0.25},
    )
    body = ml.get(reverse("training_jobs:job_list")).content.decode()
    assert "2 min 05 s" in body and "reward/r_total 0.25" in body and 'hx-trigger="every 5s' not in body


def test_new_job_form_puts_the_preset_on_top_the_common_fields_first_and_the_rest_in_an_advanced_fold(ml):
    body = ml.get(reverse("training_jobs:job_new") + "?method=repo&preset=tiny").content.decode()
    assert body.index('id="id_preset"') < body.index('id="id_name"')  # the preset comes first
    common, advanced = body.split('id="hp-common"')[1].split('id="hp-advanced"')
    assert 'name="hp_learning_rate"' in common and 'name="hp_max_steps"' in common
    assert 'name="hp_lora_alpha"' not in common and 'name="hp_lora_alpha"' in advanced
    assert "<h4>LoRA</h4>" in advanced and "Advanced: " in advanced
    assert advanced.count('class="help"') >= 10  # each advanced field keeps its help text


def test_a_snapshot_can_be_opened_and_downloaded_and_rows_counted_before_freezing(ml):
    snap = factories.snapshot(rows=3)
    listing = ml.get(reverse("training_jobs:snapshot_list")).content.decode()
    assert reverse("training_jobs:snapshot_detail", args=[snap.pk]) in listing
    page = ml.get(reverse("training_jobs:snapshot_detail", args=[snap.pk])).content.decode()
    assert "First 3 rows" in page and snap.sha256 in page
    download = ml.get(reverse("training_jobs:snapshot_download", args=[snap.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content).count(b"\n") == 3
    assert "attachment" in download["Content-Disposition"]
    counted = ml.post(reverse("training_jobs:snapshot_list"), {"name": "x", "kind": "preference", "action": "count"})
    assert counted.status_code == 200 and "These filters give <strong>0 rows</strong>" in counted.content.decode()
    assert DatasetSnapshot.objects.count() == 1  # counting froze nothing
    assert ml.get(reverse("training_jobs:snapshot_download", args=[9999])).status_code == 404
