"""The job page (live progress, charts) and the comparison page in a real browser, with screenshots."""

import pytest
from django.utils import timezone

from kernel.status import Status
from tests.training_jobs import factories
from training_jobs.models import JobMetric, JobSample, TrainingJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def finished_job(*, name: str, method: str, slope: float) -> TrainingJob:
    """A job row as a worker leaves it, with curves (no engine needed to look at the pages)."""
    job = TrainingJob.objects.create(
        name=name,
        method=method,
        status=Status.SUCCEEDED,
        base_model=factories.base_model(),
        progress={"step": 20, "total": 20, "fraction": 1.0, "eta_s": 0, "elapsed_s": 61},
        metrics={"r_total": 0.2 + slope * 20, "loss": 1.0 - slope * 10},
        finished_at=timezone.now(),
        started_at=timezone.now(),
        worker_host="gpu-node-1",
        engine_pid=4242,
        run_dir="/tmp/run",
    )
    job.snapshots.set([factories.snapshot()])
    JobMetric.objects.bulk_create(
        JobMetric(
            job=job,
            step=s,
            data={
                "step": s,
                "loss": 1.0 - slope * s / 2,
                "r_total": 0.2 + slope * s,
                "kl": 0.01 * s,
                "explained_variance": min(1.0, 0.05 * s),
            },
        )
        for s in range(1, 21)
    )
    JobSample.objects.create(
        job=job,
        step=20,
        data={
            "reply": "Seaview is at 610 nearby; would 620 work?",
            "r_model": 0.4,
            "e_judge": 5,
            "e_func": -2,
            "r_total": 0.41,
        },
    )
    return job


def test_job_page_and_comparison(page, login, live_server, role_users, screenshot):
    repo = finished_job(name="repo tiny", method="repo", slope=0.03)
    ppo = finished_job(name="ppo tiny", method="ppo", slope=0.01)
    running = TrainingJob.objects.create(
        name="repo running",
        method="repo",
        status=Status.RUNNING,
        base_model=factories.base_model(),
        progress={"step": 3, "total": 10, "fraction": 0.3, "eta_s": 42},
        started_at=timezone.now(),
    )
    login(role_users["ml_engineer"])

    page.goto(f"{live_server.url}/jobs/{running.pk}/")
    assert "ETA 42 s" in page.inner_text("#live")
    TrainingJob.objects.filter(pk=running.pk).update(progress={"step": 6, "total": 10, "fraction": 0.6, "eta_s": 9})
    page.wait_for_function("document.querySelector('#live').innerText.includes('step 6 / 10')", timeout=10_000)

    page.goto(f"{live_server.url}/jobs/{repo.pk}/")
    page.wait_for_function("document.getElementById('charts').dataset.count === '4'", timeout=10_000)
    assert page.locator("#charts canvas").count() == 4
    assert "Seaview is at 610" in page.inner_text("table.samples")
    screenshot("job_page")

    page.goto(f"{live_server.url}/jobs/")
    page.check(f"input[name=jobs][value='{repo.pk}']")
    page.check(f"input[name=jobs][value='{ppo.pk}']")
    page.keyboard.press("Enter")  # submits the compare form from the focused checkbox
    page.wait_for_url("**/jobs/compare/**")
    page.wait_for_function("document.getElementById('charts').dataset.count === '4'", timeout=10_000)
    assert f"#{repo.pk} REPO" in page.inner_text("table.final") and f"#{ppo.pk} PPO" in page.inner_text("table.final")
    screenshot("compare")


def test_job_form_shows_each_hyperparameters_help(page, login, live_server, role_users, screenshot):
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/jobs/new/?method=repo")
    assert "KL penalty" in page.inner_text("#hp-help-kl_coef")
    page.select_option("#id_method", "dpo")  # htmx swaps in DPO's fields, with their help
    page.wait_for_selector("#hp-help-beta", timeout=10_000)
    assert "reference" in page.inner_text("#hp-help-beta")
    screenshot("job_form")
