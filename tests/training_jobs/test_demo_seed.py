"""The demo jobs and evaluation on a fresh database, for real: ``seed_demo`` then ``seed_demo_jobs`` runs an RM
job and a REPO job on the tiny model with the real engine (while the shared real Celery worker is up and
may take the jobs' queue messages itself), registers their versions and generates the demo-models eval
set's replies with both model systems. Then the ML engineer's pages show two finished jobs with charts and
samples, and the evaluator gets panel work with the model systems' replies, in a real browser too."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from evaluation.models import EvalSet, Response
from evaluation.services.demo import MODELS
from evaluation.services.panels import panel_assignment_next
from kernel.status import Status
from tests.fixtures.services import PASSWORD
from training_jobs.models import JobMetric, JobSample, TrainingJob
from training_jobs.services.demo import REPO_JOB, RM_JOB, UNTUNED

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(tiny_model, settings, celery_worker, django_user_model):
    settings.PARLEY_BASE_MODEL = str(tiny_model)
    call_command("seed_demo", "--scale", "12")
    started = time.monotonic()
    call_command("seed_demo_jobs", "--dialogues", "2")
    first = time.monotonic() - started
    for username in ("mlengineer", "evaluator"):
        user = django_user_model.objects.get(username=username)
        user.set_password(PASSWORD)
        user.save()
    return first


def test_fresh_seed_gives_the_ml_engineer_two_finished_jobs_and_the_evaluator_panel_work(
    seeded, client, django_user_model, page, login, live_server, screenshot
):
    rm, repo = TrainingJob.objects.get(name=RM_JOB), TrainingJob.objects.get(name=REPO_JOB)
    for job, method in ((rm, "rm"), (repo, "repo")):
        assert job.status == Status.SUCCEEDED, job.error
        assert job.preset == "tiny" and job.output_model.method == method
        assert JobMetric.objects.filter(job=job).count() >= 2  # a curve, not a dot
    assert JobSample.objects.filter(job=repo).exists()  # the REPO loop logged replies with their rewards
    assert repo.reward_config.reward_model == rm.output_model  # REPO rewarded by the demo RM

    # Idempotent: a second seed runs nothing and adds nothing.
    started = time.monotonic()
    call_command("seed_demo_jobs", "--dialogues", "2")
    assert time.monotonic() - started < 30
    assert TrainingJob.objects.count() == 2 and EvalSet.objects.filter(name=MODELS).count() == 1

    eval_set = EvalSet.objects.get(name=MODELS)
    by_system = {
        name: Response.objects.filter(item__eval_set=eval_set, system__name=name).count()
        for name in ("gold", UNTUNED, repo.output_model.name)
    }
    assert all(by_system.values()) and len(set(by_system.values())) == 1, by_system
    evaluator = django_user_model.objects.get(username="evaluator")
    assignment = panel_assignment_next(user=evaluator, eval_set=eval_set)
    assert assignment is not None and len(assignment.order) == 3  # gold, untuned and REPO, blind

    ml = django_user_model.objects.get(username="mlengineer")
    client.force_login(ml)
    listing = client.get(reverse("training_jobs:job_list")).content.decode()
    assert RM_JOB in listing and REPO_JOB in listing
    metrics = client.get(reverse("training_jobs:job_metrics", args=[repo.pk])).json()
    assert metrics["groups"], metrics

    login(ml)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}{reverse('training_jobs:job_list')}")
    screenshot("ml-first-login-job-list")
    page.goto(f"{live_server.url}{reverse('training_jobs:job_detail', args=[repo.pk])}")
    page.wait_for_selector("canvas")
    assert page.locator("canvas").count() >= 2
    screenshot("ml-first-login-repo-job")
    page.goto(f"{live_server.url}{reverse('training_jobs:job_detail', args=[rm.pk])}")
    page.wait_for_selector("canvas")
    screenshot("ml-first-login-rm-job")

    page.context.clear_cookies()
    login(evaluator)
    page.goto(f"{live_server.url}{reverse('evaluation:panel_item', args=[assignment.pk])}")
    assert page.locator("[data-label='C']").count() >= 1  # three blind replies to rate
    screenshot("evaluator-first-login-panel")
