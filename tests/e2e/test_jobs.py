"""The job page (live progress, charts) and the comparison page in a real browser, with screenshots."""

import pytest
from django.utils import timezone

from kernel.status import Status
from tests.training_jobs import factories
from training_jobs.models import JobMetric, JobSample, TrainingJob

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def finished_job(*, name: str, method: str, slope: float, lr: float = 1e-5) -> TrainingJob:
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
        config={"learning_rate": lr, "rewards": {"n": 40}},
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
                "reward/r_total": 0.2 + slope * s,
                "reward/e_judge": 0.0,  # no judge configured: a flat zero series, hidden
                "rules/internal_term_leak": 0.5 - 0.02 * s,
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
            "hotel_message": "We are at 650 already.",
            "evidence": [{"rule": "internal_term_leak", "points": -15, "evidence": "work order"}],
        },
    )
    return job


def test_job_page_and_comparison(page, login, live_server, role_users, screenshot):
    repo = finished_job(name="repo tiny", method="repo", slope=0.03)
    ppo = finished_job(name="ppo tiny", method="ppo", slope=0.01, lr=3e-5)
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
    page.wait_for_function("() => document.querySelector('#live').innerText.includes('step 6 / 10')", timeout=10_000)

    page.goto(f"{live_server.url}/jobs/{repo.pk}/")
    page.wait_for_function("() => document.getElementById('charts').dataset.count === '6'", timeout=10_000)
    groups = page.locator("#charts details.panel-group > summary").all_inner_texts()
    assert groups == ["reward (1, 1 hidden)", "train (4)", "rules (1)"]  # W&B-style panels, key group first
    assert page.locator("#charts canvas").count() == 6  # reward/e_judge (all zero) is hidden
    page.click("#show-hidden")
    assert page.locator("#charts canvas").count() == 7
    assert "Hide the 1" in page.inner_text("#show-hidden")
    page.click("#show-hidden")
    page.fill("#smoothing", "0.6")  # smoothing: each chart gains its faint raw curve
    page.wait_for_function("() => document.getElementById('smoothing-value').textContent === '0.60'")
    page.click("#charts details.panel-group[data-group=rules] > summary")  # a group folds away
    assert not page.locator("[data-metric='rules/internal_term_leak'] canvas").is_visible()
    samples = page.inner_text("table.samples")
    assert "Seaview is at 610" in samples and "We are at 650 already." in samples
    assert "internal_term_leak" in samples and "work order" in samples and "Internal vocabulary" in samples
    screenshot("job_page")

    page.goto(f"{live_server.url}/jobs/")
    page.check(f"input[name=jobs][value='{repo.pk}']")
    page.check(f"input[name=jobs][value='{ppo.pk}']")
    page.keyboard.press("Enter")  # submits the compare form from the focused checkbox
    page.wait_for_url("**/jobs/compare/**")
    page.wait_for_function("() => document.getElementById('charts').dataset.count === '7'", timeout=10_000)
    final = page.inner_text("table.final")
    assert f"#{repo.pk} REPO" in final and f"#{ppo.pk} PPO" in final
    assert final.index("r_total") < final.index("loss")  # key metrics first, not alphabetical
    assert page.locator("table.final td.best").count() == 2  # r_total: repo is best; loss: repo again
    diff = page.inner_text("table.config-diff")
    assert "learning_rate" in diff and "method" in diff and "rewards.n" not in diff  # only what differs
    screenshot("compare")

    page.goto(f"{live_server.url}/jobs/{running.pk}/")
    page.click("text=Cancel job…")
    assert "Yes, cancel job" in page.inner_text("main") and TrainingJob.objects.get(pk=running.pk).status == "running"
    screenshot("cancel_confirmation")
    page.click("#confirm-cancel")
    page.wait_for_url(f"**/jobs/{running.pk}/")
    assert TrainingJob.objects.get(pk=running.pk).cancel_requested


def test_job_form_shows_each_hyperparameters_help(page, login, live_server, role_users, screenshot):
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/jobs/new/?method=repo")
    assert "KL penalty" in page.inner_text("#hp-help-kl_coef")
    page.select_option("#id_method", "dpo")  # htmx swaps in DPO's fields, with their help
    page.wait_for_selector("#hp-help-beta", timeout=10_000)
    assert "reference" in page.inner_text("#hp-help-beta")
    screenshot("job_form")
