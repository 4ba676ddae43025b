"""A blind rating panel driven by the keyboard, and the lead's consensus page, in a real browser."""

import pytest

from evaluation.models import Judgment, PanelAssignment
from evaluation.services.panels import labels_for, panel_member_set
from tests.evaluation.factories import ALL_SKILLS, add_responses, judge, make_set, make_system

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rating_panel_by_keyboard(page, login, live_server, role_users, screenshot):
    eval_set = make_set(kind="online", n=2)
    systems = [make_system("SecretRepoSystem"), make_system("SecretBaseSystem"), make_system("gold", model=False)]
    add_responses(eval_set, *systems)
    rater = role_users["evaluator"]
    panel_member_set(user=rater, expertise="linguistics")
    login(rater)
    page.goto(f"{live_server.url}/eval/")
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel-form[data-keys=ready]")  # panel.js has bound the keys
    assert "Secret" not in page.content()
    screenshot("panel")
    # Responses in page order: turn 0 A, B, C then turn 2 A, B, C. Rate A 5 (+ excellent), B 4, C 2.
    for key in ("5", "e", "f", "w", "j", "4", "f", "j", "2", "s"):
        page.keyboard.press(key)
    assert page.locator(".label-row.focused legend").inner_text() == "C"
    screenshot("panel-filled")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Rate " in page.title()
    assignment = PanelAssignment.objects.get(rater=rater, submitted_at__isnull=False)
    by_label = {label: system_id for label, system_id in labels_for(assignment.order)}
    a = Judgment.objects.get(item=assignment.item, system_id=by_label["A"])
    assert a.rating == 5 and a.excellent_turns == [0] and a.skills["fluency"] and a.skills["workflow_compliance"]
    assert Judgment.objects.get(item=assignment.item, system_id=by_label["B"]).rating == 4
    c = Judgment.objects.get(item=assignment.item, system_id=by_label["C"])
    assert c.rating == 2 and c.skills["scope_understanding"] and not c.skills["fluency"]


def test_consensus_page(page, login, live_server, role_users, screenshot):
    eval_set = make_set(name="bad-cases", kind="bad_case", n=2)
    repo, base = make_system("REPO"), make_system("Base")
    add_responses(eval_set, repo, base)
    item = eval_set.items.order_by("position").first()
    for rater, expertise, repo_status, base_status in (
        ("ana", "task", "clean", "unresolved"),
        ("li", "linguistics", "minor_issues", "unresolved"),
        ("sam", "cs", "clean", "severe_unresolved"),
    ):
        judge(item, repo, rater, expertise=expertise, fix_status=repo_status, skills=ALL_SKILLS)
        judge(item, base, rater, expertise=expertise, fix_status=base_status, skills={**ALL_SKILLS, "fluency": False})
    login(role_users["reviewer"])
    page.goto(f"{live_server.url}/eval/items/{item.pk}/consensus/")
    assert page.locator(".consensus-row").count() == 2
    assert page.locator(".consensus-row.disagree").count() == 2
    assert "REPO" not in page.content()
    screenshot("consensus")
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert Judgment.objects.get(item=item, system=repo, consensus=True).fix_status == "clean"
    assert Judgment.objects.get(item=item, system=base, consensus=True).fix_status == "unresolved"
