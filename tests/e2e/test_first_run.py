"""A fresh demo seed in a real browser: every role's first login leads somewhere with work to do; two
annotators tie 1–1 and the reviewer settles it with a confirmation naming whose pair goes; skip and
"nothing wrong" on the bad-case queue; the error pages. Screenshots of each."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import AnnotationQueue, Answer, Assignment, GoldDecision
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from tests.annotation.factories import side_for

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Each demo user's first page after following the home page's first "what to do next" link, and what
# must be there to act on.
FIRST_ACTION = {
    "language": "button.start",
    "language2": "button.start",
    "bd": "button.start",
    "bd2": "button.start",
    "reviewer": "#bad-cases, table, .card",
    "mlengineer": "#queue-form",
    "evaluator": "form button.primary",
    "admin": "table, .card",  # every role: the reviewer's step comes first
}


@pytest.fixture
def demo_login(page, live_server, settings):
    def login(username: str):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", settings.PARLEY_DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return login


def test_first_login_of_every_role_on_a_fresh_seed(page, demo_login, live_server, screenshot):
    call_command("seed_demo", scale=6, world_only=True)
    for username, selector in FIRST_ACTION.items():
        page.context.clear_cookies()
        demo_login(username)
        assert page.url.rstrip("/") == live_server.url, username  # lands on home
        step = page.locator("#next-step a.button").first
        assert step.is_visible(), f"{username}: no next step on the home page"
        screenshot(f"first-login-{username}")
        step.click()
        page.wait_for_load_state()
        assert page.locator(selector).first.is_visible(), f"{username}: nothing to act on at {page.url}"
        assert "Nothing to annotate yet" not in page.content()


def _tie(queue: AnnotationQueue) -> int:
    users = get_user_model().objects
    a, b = users.get(username="language"), users.get(username="language2")
    held_a, held_b = annotation_task_next(user=a, queue=queue), annotation_task_next(user=b, queue=queue)
    answer_submit(assignment_id=held_a.pk, user=a, data={"side": side_for(held_a, "a"), "strength": "2"})
    answer_submit(assignment_id=held_b.pk, user=b, data={"side": side_for(held_b, "b"), "strength": "2"})
    return held_a.item_id


def test_tie_review_names_whose_pair_is_removed(page, demo_login, live_server, screenshot):
    call_command("seed_demo", scale=4, world_only=True)
    item_id = _tie(AnnotationQueue.objects.get(lens="language", kind="pairwise"))
    demo_login("reviewer")
    page.goto(f"{live_server.url}/annotation/review/{item_id}/")
    assert page.locator("#tie-notice").is_visible()
    assert page.locator("input[name=decision][value=accept]").is_disabled()
    assert page.locator("input[name=decision]:checked").count() == 0  # nothing pre-selected
    screenshot("review-tie")
    page.check("input[name=decision][value=fix]")
    page.select_option("select[name=choice]", "b")
    page.fill("textarea[name=reason]", "B keeps the price the hotel offered")
    page.click("#review-form button[type=submit]")
    effect = page.locator("#confirm-effect")
    assert (
        "removes the pair of language" in effect.inner_text() and "keeps the pair of language2" in effect.inner_text()
    )
    assert not GoldDecision.objects.exists()
    screenshot("review-tie-confirm")
    page.click("#confirm")
    page.wait_for_load_state()
    assert "“Fix” saved. The decision keeps the pair of language2; removes the pair of language." in page.content()
    screenshot("review-tie-saved")


def test_skip_then_nothing_wrong_with_the_keyboard(page, demo_login, live_server, screenshot):
    call_command("seed_demo", scale=4, world_only=True)
    queue = AnnotationQueue.objects.get(kind="bad_case", lens="bd")
    demo_login("bd")
    page.goto(f"{live_server.url}/annotation/")
    page.locator("tr", has_text=queue.name).locator("button.start").click()
    page.wait_for_selector("#answer-form[data-keys=ready]")  # keys.js has bound the keys
    first = Assignment.objects.get(user__username="bd")
    assert "You answered 0 items here" in page.locator("#task-progress").inner_text()
    screenshot("task-bad-case-with-skip")
    with page.expect_navigation():
        page.keyboard.press("s")
    first.refresh_from_db()
    assert first.status == "expired" and "Skipped" in page.content()
    page.keyboard.press("n")
    assert page.locator(".bad-case-editor").is_hidden()  # "nothing wrong" folds the editor away
    screenshot("task-nothing-wrong")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    answer = Answer.objects.get(user__username="bd")
    assert answer.scores["category"] == "nothing_wrong" and answer.bad_case is None
    assert answer.item_id != first.item_id
    assert "You answered 1 item here" in page.locator("#task-progress").inner_text()


def test_error_pages_explain_and_navigate(page, demo_login, live_server, screenshot):
    call_command("seed_demo", scale=1, world_only=True)
    demo_login("language")
    page.goto(f"{live_server.url}/annotation/no-such-page/")
    assert page.locator("#error-page h1").inner_text() == "There is nothing at this address"
    assert page.locator("#error-page a", has_text="Annotate").is_visible()
    screenshot("error-404")
    page.goto(f"{live_server.url}/jobs/")
    assert "You cannot open this page" in page.locator("#error-page h1").inner_text()
    screenshot("error-403")
    page.locator("#error-page a", has_text="Go to the start page").click()
    page.wait_for_load_state()
    assert page.locator("#next-step").is_visible()
    response = page.request.get(f"{live_server.url}/favicon.ico")
    assert response.ok
