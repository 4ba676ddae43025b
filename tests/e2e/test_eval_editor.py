"""The eval-set editor picks systems and the RM by name; "Apply verdicts" asks first and reports in words.
In a real browser, with screenshots."""

import pytest

from annotation.models import BadCase
from registry.models import ModelVersion
from tests.evaluation.factories import judge, make_set, make_system

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_systems_by_name_and_apply_verdicts_with_confirmation(page, login, live_server, role_users, screenshot):
    eval_set = make_set(name="bc", kind="bad_case", n=2)
    ModelVersion.objects.create(name="repo-tiny-7", base_model="/tmp/base", method="repo")
    ModelVersion.objects.create(name="rm-tiny-3", base_model="/tmp/base", method="rm", lineage={"run_dir": "/r"})
    login(role_users["ml_engineer"])

    page.goto(f"{live_server.url}/eval/sets/{eval_set.pk}/")
    options = page.eval_on_selector_all("#model-version-names option", "os => os.map(o => o.value)")
    assert "repo-tiny-7" in options and "rm-tiny-3" in options
    assert page.locator("#rm-version option", has_text="rm-tiny-3").count() == 1
    page.fill("#model-version-name", "repo-tiny-7")
    screenshot("eval_set_editor")
    page.click("text=Add system")
    page.wait_for_selector("text=System repo-tiny-7 added")
    assert page.locator("input[name=systems]").count() == 1

    system = make_system("REPO")
    first, second = eval_set.items.all()
    for rater in ("task", "language"):
        judge(first, system, rater, fix_status="clean")
    judge(first, system, "lead", consensus=True, fix_status="clean")
    judge(second, system, "task", fix_status="minor_issues")
    judge(second, system, "lead", consensus=True, fix_status="minor_issues")
    page.goto(f"{live_server.url}/eval/sets/{eval_set.pk}/report/")
    page.click("text=Apply REPO's verdicts…")
    page.wait_for_selector("table.verify-plan")
    assert "What will change (2)" in page.inner_text("main") and "single rater" in page.inner_text("table.verify-plan")
    assert not BadCase.objects.filter(status="fixed").exists()
    screenshot("apply_verdicts_confirmation")
    page.click("#confirm-apply")
    page.wait_for_url(f"**/eval/sets/{eval_set.pk}/report/")
    flash = page.inner_text("main")
    assert "1 bad case marked fixed in REPO-v1" in flash and "left alone (consensus from a single rater)" in flash
    assert BadCase.objects.filter(status="fixed").count() == 1
    screenshot("apply_verdicts_done")
