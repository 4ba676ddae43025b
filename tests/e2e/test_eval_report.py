"""The report page in a real browser: the paper's table, Chart.js bars and the htmx paired comparison."""

import json

import pytest

from evaluation.models import EvalSet
from evaluation.services.judgment_import import judgments_import
from tests.evaluation.test_import import bad_case_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_report_charts_and_comparison(page, login, live_server, role_users, screenshot):
    sft = ["clean"] * 14 + ["minor_issues"] * 9 + ["major_issues"] * 19 + ["unresolved"] * 3
    rows = bad_case_lines("REPO") + [{**r, "fix_status": sft[int(r["dialogue"][3:])]} for r in bad_case_lines("SFT")]
    judgments_import(lines=[json.dumps(r) for r in rows])
    eval_set = EvalSet.objects.get()
    login(role_users["ml_engineer"])
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/eval/sets/{eval_set.pk}/report/")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-main') && Chart.getChart('chart-skills')")
    assert page.evaluate("Chart.getChart('chart-main').data.datasets.length") == 2
    assert "93.33" in page.locator("table.report").inner_text()
    # The page fits a 1,440-px window: a wide table scrolls inside its own container, not the page.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1440
    assert page.evaluate("() => document.getElementById('report-scroll').getBoundingClientRect().right") <= 1440
    assert page.evaluate("() => getComputedStyle(document.getElementById('report-scroll')).overflowX") == "auto"
    page.select_option("select[name=a]", "REPO")
    page.select_option("select[name=b]", "SFT")
    page.select_option("select[name=metric]", "clean_fix_rate")
    page.click("form.inline-form button")
    page.wait_for_selector("#comparison")
    assert "20 wins, 0 losses, 25 ties" in page.inner_text("#comparison")
    screenshot("report")
