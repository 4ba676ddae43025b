"""The study page in a real browser: it fills in by itself as jobs finish and eval runs end (its static
script fetches the live part), draws the Chart.js bars with intervals, and labels the metrics AUTOMATIC."""

import pytest

from evaluation.models import EvalSet
from evaluation.services import studies
from tests.evaluation.factories import make_set
from tests.evaluation.test_studies import finish, run_done
from tests.training_jobs import factories as job_factories
from training_jobs.services import jobs as job_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """No worker here: the test plays the worker's part (jobs and eval runs end when it says so)."""
    monkeypatch.setattr(job_services, "row_enqueue", lambda row: None)
    monkeypatch.setattr("evaluation.services.runs.row_enqueue", lambda row: None)


def test_the_study_page_fills_in_as_jobs_finish(page, login, live_server, role_users, screenshot):
    study = studies.study_create(
        name="SFT vs REPO",
        base_model=job_factories.base_model(),
        snapshots=[job_factories.snapshot(kind="sft", name="sft rows"), job_factories.snapshot(kind="prompts")],
        methods=["sft", "repo"],
        budget={"max_steps": 20, "completions_per_step": 8},
        online_set=make_set(name="online-8", kind=EvalSet.Kind.ONLINE, n=8),
        bad_case_set=make_set(name="bad-8", kind=EvalSet.Kind.BAD_CASE, n=8),
        reward_config=job_factories.reward_config(),
    )
    finish(study.jobs.get(method="repo"), "sft-vs-repo · REPO v1")
    for run in studies.study_advance(study=study):  # the start policy and REPO
        start = run.systems.get().model_version.method == "base"
        run_done(run, broken_every=2 if start else 4, judge_deducts_on=1)
    login(role_users["ml_engineer"])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/eval/studies/{study.pk}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('study-chart')")
    assert "AUTOMATIC" in page.inner_text("#study-live")
    assert page.locator("#automatic-online tr[data-method=repo]").count() == 1
    assert page.locator("#automatic-online tr[data-method=sft]").count() == 0
    assert page.locator("#study-waiting").count() == 1
    # The SFT job ends and its eval runs finish while the page is open: the page fills in by itself.
    finish(study.jobs.get(method="sft"), "sft-vs-repo · SFT v1")
    for run in studies.study_advance(study=study):
        run_done(run, broken_every=3, judge_deducts_on=2)
    page.wait_for_function("() => document.querySelector('#automatic-bad_case tr[data-method=sft]') !== null")
    page.wait_for_function("() => document.getElementById('study-settled') !== null")
    page.wait_for_function("() => Chart.getChart('study-chart').data.labels.length === 3")
    assert page.evaluate("() => Chart.getChart('study-chart').data.labels") == ["start", "SFT", "REPO"]
    # The intervals are drawn as floating bars [low, high] beside each rate.
    assert page.evaluate("() => Chart.getChart('study-chart').data.datasets[1].data[2].length") == 2
    assert "automatic fix proxy" in page.inner_text("#automatic-bad_case")
    screenshot("study")
