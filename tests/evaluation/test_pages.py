"""Pages for leads and admins: sets, runs, the report (table, intervals, comparison, downloads), probe, exports."""

import json

import pytest
from django.urls import reverse

from annotation.models import BadCase
from evaluation.models import EvalRun, EvalSet, EvalSystem
from kernel.models import AuditEvent

from .factories import add_responses, judge, make_dialogue, make_set, make_system
from .test_import import bad_case_lines, online_lines

pytestmark = pytest.mark.django_db


def imported(*rows):
    from evaluation.services.judgment_import import judgments_import

    judgments_import(lines=[json.dumps(r) for r in rows])


def test_set_list_for_leads_and_evaluators(client_for):
    eval_set = make_set(kind="online", n=2)
    lead = client_for("ml_engineer").get(reverse("evaluation:eval_set_list")).content.decode()
    assert "online-30 v1" in lead and reverse("evaluation:eval_report", args=[eval_set.pk]) in lead
    ev = client_for("evaluator").get(reverse("evaluation:eval_set_list")).content.decode()
    assert "online-30 v1" in ev and "report" not in ev


def test_create_freeze_and_version_a_set(client_for):
    client = client_for("ml_engineer")
    d1, d2 = make_dialogue(external_id="prod-1"), make_dialogue(external_id="prod-2")
    bad = client.post(
        reverse("evaluation:eval_set_create"), {"name": "online", "kind": "online", "refs": "prod-1 nope"}
    )
    assert bad.status_code == 400 and "1 of the references were not found" in bad.content.decode()
    assert not EvalSet.objects.exists()
    response = client.post(
        reverse("evaluation:eval_set_create"), {"name": "online", "kind": "online", "refs": "prod-1, prod-2"}
    )
    eval_set = EvalSet.objects.get()
    assert response.status_code == 302 and eval_set.items.count() == 2
    assert list(eval_set.items.order_by("position").values_list("dialogue", flat=True)) == [d1.pk, d2.pk]
    assert eval_set.items.first().turns == [0, 2]
    client.post(reverse("evaluation:eval_set_freeze", args=[eval_set.pk]))
    eval_set.refresh_from_db()
    assert eval_set.is_frozen
    client.post(reverse("evaluation:eval_set_version", args=[eval_set.pk]))
    v2 = EvalSet.objects.get(version=2)
    assert v2.items.count() == 2 and not v2.is_frozen
    assert AuditEvent.objects.filter(object_type="evaluation.evalset").count() == 3


def test_bad_case_set_from_bad_cases(client_for):
    eval_set = make_set(name="seed", kind="bad_case", n=2)
    ids = " ".join(str(b) for b in BadCase.objects.values_list("pk", flat=True))
    client_for("ml_engineer").post(
        reverse("evaluation:eval_set_create"), {"name": "bc", "kind": "bad_case", "refs": ids}
    )
    created = EvalSet.objects.get(name="bc")
    assert created.items.count() == 2 and all(i.bad_case_id and i.turns == [2] for i in created.items.all())
    assert eval_set.pk != created.pk


def test_add_system_and_launch_a_run(client_for):
    eval_set = make_set(kind="online", n=1)
    client = client_for("ml_engineer")
    client.post(reverse("evaluation:eval_system_create", args=[eval_set.pk]), {"gold": "on"})
    gold = EvalSystem.objects.get(name="gold")
    assert gold.is_gold
    response = client.post(reverse("evaluation:eval_run_create", args=[eval_set.pk]), {"systems": [gold.pk]})
    assert response.status_code == 302
    run = EvalRun.objects.get()
    assert run.status == "queued" and list(run.systems.all()) == [gold]
    page = client.get(reverse("evaluation:eval_set_detail", args=[eval_set.pk])).content.decode()
    assert "Queued" in page and 'data-status="queued"' in page


def test_report_page_table_intervals_chart_and_downloads(client_for):
    imported(*online_lines("REPO"), *online_lines("DPO")[:4])
    eval_set = EvalSet.objects.get()
    client = client_for("reviewer")
    page = client.get(reverse("evaluation:eval_report", args=[eval_set.pk])).content.decode()
    assert "4.63" in page and "66.67" in page and 'id="chart-data"' in page and "chart.umd.min.js" in page
    assert "Krippendorff" in page
    csv_body = client.get(reverse("evaluation:eval_report_download", args=[eval_set.pk, "csv"])).content.decode()
    assert csv_body.splitlines()[0].startswith("eval_set,version,kind,system")
    assert "REPO" in csv_body
    rows = [
        json.loads(line) for line in client.get(f"/eval/sets/{eval_set.pk}/report.jsonl").content.decode().splitlines()
    ]
    repo = next(r for r in rows if r["system"] == "REPO")
    assert (
        repo["avg_rating"] == pytest.approx(139 / 30)
        and repo["ci"]["avg_rating"][0] < 4.63 < repo["ci"]["avg_rating"][1]
    )
    assert client.get(f"/eval/sets/{eval_set.pk}/report.xlsx").status_code == 404


def test_paired_comparison_on_the_report(client_for):
    imported(*online_lines("REPO"), *[{**r, "rating": 3} for r in online_lines("Base")])
    eval_set = EvalSet.objects.get()
    client = client_for("ml_engineer")
    url = reverse("evaluation:eval_report", args=[eval_set.pk])
    page = client.get(url, {"a": "REPO", "b": "Base", "metric": "avg_rating"}).content.decode()
    assert 'id="comparison"' in page and "over 30 shared items" in page and "29 wins, 0 losses, 1 ties" in page
    assert client.get(url, {"a": "REPO", "b": "REPO"}).status_code == 400
    assert client.get(url, {"a": "REPO", "b": "nope"}).status_code == 400


def test_apply_verdicts_confirms_first_and_reports_in_words(client_for):
    eval_set = make_set(name="bc", kind="bad_case", n=2)
    system = make_system("REPO")
    first, second = eval_set.items.all()
    for rater in ("task", "language"):  # two raters behind the first consensus
        judge(first, system, rater, fix_status="clean")
    judge(first, system, "lead", consensus=True, fix_status="clean")
    judge(second, system, "task", fix_status="clean")  # one rater only behind the second
    judge(second, system, "lead", consensus=True, fix_status="clean")
    client = client_for("ml_engineer")
    url = reverse("evaluation:bad_cases_verify", args=[eval_set.pk])
    page = client.get(url, {"system": system.pk})
    body = page.content.decode()
    assert page.status_code == 200 and "What will change (2)" in body and "2 raters" in body and "single rater" in body
    assert not BadCase.objects.filter(status="fixed").exists()  # the question changes nothing
    response = client.post(url, {"system": system.pk}, follow=True)
    text = response.content.decode()
    assert "1 bad case marked fixed in" in text and "1 bad case left alone (consensus from a single rater)" in text
    assert "{" not in text.split("Applied REPO")[1].split("</")[0]  # words, not JSON
    assert BadCase.objects.filter(status="fixed").count() == 1
    client.post(url, {"system": system.pk, "include_thin": "1"})
    assert BadCase.objects.filter(status="fixed").count() == 2
    assert client.get(url).status_code == 302  # no system picked: back to the report with a message


def test_api_report_matches_the_command_shape(client_for):
    imported(*bad_case_lines())
    eval_set = EvalSet.objects.get()
    data = client_for("ml_engineer").get(f"/api/eval/sets/{eval_set.pk}/report/").json()
    assert data["systems"]["REPO"]["fix_rate"] == pytest.approx(100 * 42 / 45)
    detail = client_for("ml_engineer").get(f"/api/eval/sets/{eval_set.pk}/report/?detail=1").json()
    assert detail["agreement"]["fix_status"] == pytest.approx(1.0)


def test_admin_exports(client_for):
    imported(*online_lines()[:8])
    client = client_for("admin")
    assert "evaluation-judgments.csv" in client.get(reverse("evaluation:export")).content.decode()
    raw = client.get(reverse("evaluation:export_download", args=["judgments", "jsonl"])).content.decode().splitlines()
    assert len(raw) == 6 and json.loads(raw[0])["consensus"] is False
    consensus = client.get(reverse("evaluation:export_download", args=["consensus", "csv"])).content.decode()
    assert len(consensus.strip().splitlines()) == 3 and consensus.startswith("eval_set,version,kind,dialogue")
    reports = client.get(reverse("evaluation:export_download", args=["reports", "jsonl"])).content.decode()
    assert json.loads(reports.splitlines()[0])["system"] == "REPO"
    assert client.get("/eval/export/nothing.csv").status_code == 404
    assert AuditEvent.objects.filter(action="export", object_type="evaluation.export").count() == 3
    assert client_for("ml_engineer").get(reverse("evaluation:export")).status_code == 403


def test_probe_view_draws_the_curve(client_for):
    from registry.models import ModelVersion
    from training_jobs.models import JobMetric, TrainingJob

    base = ModelVersion.objects.create(name="tiny", base_model="/tmp/tiny")
    job = TrainingJob.objects.create(name="repo-1", method="repo", base_model=base)
    for step, score in ((0, 2.0), (10, 1.8), (20, 2.4), (30, 2.6)):
        JobMetric.objects.create(job=job, step=step, data={"probe/score": score, "loss": 1.0})
    JobMetric.objects.create(job=job, step=35, data={"loss": 0.9})
    page = client_for("ml_engineer").get(reverse("evaluation:probe")).content.decode()
    assert 'id="probe-data"' in page and "repo-1" in page and "30.0%" in page
    assert '"x": 30, "y": 2.6' in page


def test_comparison_partial_for_htmx(client_for):
    imported(*online_lines("REPO"), *[{**r, "rating": 3} for r in online_lines("Base")])
    eval_set = EvalSet.objects.get()
    url = reverse("evaluation:eval_report", args=[eval_set.pk])
    client = client_for("reviewer")
    partial = client.get(url, {"a": "REPO", "b": "Base", "metric": "avg_rating"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200 and 'id="comparison"' in body and "<html" not in body
    bad = client.get(url, {"a": "REPO", "b": "REPO"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "Pick two different systems" in bad.content.decode()


def test_a_system_is_added_by_the_model_versions_name_and_the_rm_picked_from_the_registry(client_for, monkeypatch):
    from registry.models import ModelVersion

    eval_set = make_set(name="bc", kind="bad_case", n=1)
    ModelVersion.objects.create(name="repo-tiny-7", base_model="/tmp/base", method="repo")
    rm = ModelVersion.objects.create(
        name="rm-tiny-3", base_model="/tmp/base", method="rm", lineage={"run_dir": "/runs/rm-3"}
    )
    client = client_for("ml_engineer")
    detail = reverse("evaluation:eval_set_detail", args=[eval_set.pk])
    page = client.get(detail).content.decode()
    assert '<option value="repo-tiny-7">' in page and f'<option value="{rm.pk}">rm-tiny-3</option>' in page
    assert 'name="rm_dir"' not in page  # no filesystem path to type
    url = reverse("evaluation:eval_system_create", args=[eval_set.pk])
    response = client.post(url, {"model_version_name": "repo-tiny-7"}, follow=True)
    assert EvalSystem.objects.filter(name="repo-tiny-7", model_version__name="repo-tiny-7").exists()
    assert "System repo-tiny-7 added" in response.content.decode()
    response = client.post(url, {"model_version_name": "<b>nope</b>"}, follow=True)
    assert "No model version is named" in response.content.decode() and "<b>nope" not in response.content.decode()
    assert EvalSystem.objects.count() == 1

    from evaluation.services import runs

    monkeypatch.setattr(runs, "row_enqueue", lambda row: None)
    system = EvalSystem.objects.get()
    client.post(
        reverse("evaluation:eval_run_create", args=[eval_set.pk]), {"systems": [system.pk], "rm_version": rm.pk}
    )
    assert EvalRun.objects.get().rm_dir == "/runs/rm-3"


def test_report_says_too_few_below_five_items_defaults_to_two_systems_and_scrolls(client_for):
    eval_set = make_set(kind="online", n=2)
    repo, gold = make_system("REPO"), make_system("gold", model=False)
    for item in eval_set.items.all():
        for system, rating in ((repo, 5), (gold, 4)):
            judge(item, system, "task", rating=rating)
            judge(item, system, "lead", consensus=True, rating=rating)
    client = client_for("ml_engineer")
    response = client.get(reverse("evaluation:eval_report", args=[eval_set.pk]))
    body = response.content.decode()
    assert "too few" in body and 'class="ci">[' not in body  # n = 2: no interval
    assert response.context["compare"]["a"] == "REPO" and response.context["compare"]["b"] == "gold"
    assert 'id="report-scroll"' in body
    pair = client.get(reverse("evaluation:eval_report", args=[eval_set.pk]), {"a": "REPO", "b": "gold"})
    assert "too few shared items" in pair.content.decode()


def test_consensus_page_shows_the_dialogue_context(client_for):
    eval_set = make_set(kind="online", n=1)
    item = eval_set.items.get()
    system = make_system("REPO")
    add_responses(eval_set, system)
    judge(item, system, "task", rating=4)
    body = client_for("reviewer").get(reverse("evaluation:consensus_item", args=[item.pk])).content.decode()
    assert 'id="dialogue-context"' in body and "hmm ok" in body and "Jade Inn" in body
    assert "we are already cheap" not in body  # after the last rated turn


def test_a_running_eval_run_shows_its_progress_and_the_table_polls_until_it_ends(client_for, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from engine.rundir import generate_files

    eval_set = make_set(kind="online", n=1)
    system = make_system("REPO")
    run = EvalRun.objects.create(
        eval_set=eval_set,
        status="running",
        run_dir=str(tmp_path),
        started_at=timezone.now() - timedelta(seconds=30),
    )
    run.systems.set([system])
    prompts, replies = generate_files(tmp_path, tag=str(system.pk))
    prompts.write_text("{}\n" * 4, encoding="utf-8")
    replies.write_text("{}\n", encoding="utf-8")
    client = client_for("ml_engineer")
    page = client.get(reverse("evaluation:eval_set_detail", args=[eval_set.pk])).content.decode()
    assert 'aria-valuenow="25"' in page and "1 of 4 replies" in page and "ETA 90 s" in page
    assert 'hx-trigger="every 3s"' in page
    assert client.get(reverse("evaluation:eval_set_runs", args=[eval_set.pk])).status_code == 200
    EvalRun.objects.filter(pk=run.pk).update(status="succeeded")
    assert client.get(reverse("evaluation:eval_set_runs", args=[eval_set.pk])).status_code == 286
