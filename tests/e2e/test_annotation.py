"""The annotation workspace in a real browser: keyboard-only pairwise, a bad-case gold reply, a review,
untrusted text shown as text, and a screenshot of each main page."""

import pytest

from annotation.models import Answer, BadCase, GoldDecision
from annotation.services.answers import answer_submit
from annotation.services.assignment import annotation_task_next
from tests.annotation.factories import make_dialogue, make_queue, make_world, side_for
from tests.fixtures.services import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SCRIPT = "<script>window.pwned = 1</script>We can do 720 at most."


def test_pairwise_with_the_keyboard_only_and_script_shown_as_text(page, login, live_server, screenshot):
    world = make_world()
    make_dialogue(world, hotel_text=SCRIPT)
    queue = make_queue(world, dialogues=0, target_overlap=1)
    annotator = make_user("anna", "language_expert")
    login(annotator)
    page.goto(f"{live_server.url}/annotation/")
    screenshot("workspace")
    page.click("button.start")
    page.wait_for_selector("#answer-form[data-keys=ready]")  # keys.js has bound the keys
    hotel = page.locator(".bubble.hotel", has_text="window.pwned").first
    assert "<script>window.pwned = 1</script>" in hotel.inner_text()
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("kbd", has_text="Enter").count() >= 1
    assert page.locator("#guideline-panel").is_hidden()
    page.keyboard.press("g")
    assert page.locator("#guideline-panel").is_visible()
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("b")
    page.keyboard.press("3")
    assert page.locator(".candidate.chosen").count() == 1
    screenshot("task_pairwise")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing left for you")
    answer = Answer.objects.get(user=annotator)
    assert answer.strength == "strong" and answer.preference_pair is not None
    assert answer.preference_pair.chosen_id == answer.assignment.display_order[1]  # B = the right-hand reply
    page.goto(f"{live_server.url}/annotation/queues/{queue.pk}/")
    screenshot("queue_detail")


def test_rubric_scores_with_the_keyboard_only(page, login, live_server, screenshot):
    """The score keys come from the task kind's key map: 1–5 answer the current question, then the next."""
    world = make_world()
    make_queue(world, dialogues=1, kind="rubric", lens="bd")
    login(make_user("bo", "bd_expert"))
    page.goto(f"{live_server.url}/annotation/")
    page.click("button.start")
    page.wait_for_selector("#answer-form[data-keys=ready] fieldset.score")
    assert page.locator(".keys kbd", has_text="5").count() == 1  # the legend: 1–5 score
    for key in ("4", "5", "3", "2"):
        page.keyboard.press(key)
    screenshot("task_rubric")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    answer = Answer.objects.get()
    assert answer.scores == {"sop": 4, "effectiveness": 5, "price_accuracy": 3, "scope": 2}


def test_bad_case_gold_reply(page, login, live_server, screenshot):
    world = make_world()
    queue = make_queue(world, dialogues=1, kind="bad_case", lens="bd")
    expert = make_user("bo", "bd_expert")
    login(expert)
    page.goto(f"{live_server.url}/annotation/queues/{queue.pk}/next/")  # a GET: the start page, no reservation
    page.click("#start")
    editor = page.locator("#gold-reply")
    assert editor.input_value().startswith("Candidate")  # starts from the model's reply
    editor.fill("Thank you! Could you reach 690 for the Deluxe King this week?")
    page.select_option("select[name=category]", "tone")
    page.select_option("select[name=clause]", "2.1")
    page.select_option("select[name=severity]", "minor")
    screenshot("task_bad_case")
    editor.press("Control+Enter")
    page.wait_for_url("**/annotation/**")
    bad = BadCase.objects.get()
    assert bad.status == "gold_written" and bad.clause.code == "2.1"
    page.goto(f"{live_server.url}/annotation/bad-cases/{bad.pk}/")
    assert "+Thank you! Could you reach 690" in page.locator("#gold-diff .diff-add").first.inner_text()
    screenshot("bad_case")


def test_reviewer_resolves_a_disagreement(page, login, live_server, screenshot):
    world = make_world()
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    for name, choice in (("l1", "a"), ("l2", "b")):
        user = make_user(name, "language_expert")
        assignment = annotation_task_next(user=user, queue=queue)
        answer_submit(
            assignment_id=assignment.pk, user=user, data={"side": side_for(assignment, choice), "strength": "2"}
        )
    login(make_user("rita", "reviewer"))
    page.goto(f"{live_server.url}/annotation/review/")
    screenshot("review_queue")
    page.click("table a")
    page.wait_for_selector("#review-form")
    screenshot("review_item")
    page.check("input[name=decision][value=fix]")
    page.select_option("select[name=choice]", "b")
    page.fill("textarea[name=reason]", "B asks for the target price politely (§2.1).")
    page.click("#review-form button[type=submit]")
    assert "removes the pair of l1" in page.locator("#confirm-effect").inner_text()  # whose pair goes, asked first
    page.click("#confirm")
    page.wait_for_selector("text=Nothing to review")
    gold = GoldDecision.objects.get()
    assert gold.decision == "fix" and gold.choice == "b"
    page.goto(f"{live_server.url}/annotation/dashboard/{world['project'].pk}/")
    page.wait_for_function("() => document.querySelector('#trend-chart').width > 0")
    screenshot("dashboard")


def test_branch_at_a_turn_writes_an_alternative_and_queues_a_generation(
    page, login, live_server, screenshot, monkeypatch
):
    from annotation.models import AnnotationItem, BranchGeneration, Candidate
    from annotation.services import branching
    from registry.models import ModelVersion

    # Keep the generation queued: a session's Celery worker may be listening on the gpu queue (the
    # worker path has its own test in tests/annotation/test_branch_generate.py).
    sent = []
    monkeypatch.setattr(branching, "row_enqueue", sent.append)

    world = make_world()
    dialogue = make_dialogue(world, hotel_text=SCRIPT)
    queue = make_queue(world, dialogues=0)
    ModelVersion.objects.create(name="repo-tiny-v1", base_model="/models/tiny", method="repo")
    login(make_user("bea", "bd_expert"))
    page.goto(f"{live_server.url}/annotation/dialogues/{dialogue.pk}/turns/3/branch/")
    assert page.evaluate("typeof window.pwned") == "undefined"  # the hotel's <script> is text here too
    page.fill("textarea[name=text]", "Could 690 work for the Deluxe King if we add homepage exposure?")
    page.locator("form:has(textarea[name=text]) select[name=queue]").select_option(str(queue.pk))
    screenshot("branch")
    page.click("form:has(textarea[name=text]) button[type=submit]")
    page.wait_for_url(f"**/annotation/dialogues/{dialogue.pk}/#turn-3")
    assert "Alternative reply at turn #3 saved" in page.content()
    written = Candidate.objects.get(dialogue=dialogue, source="human")
    item = AnnotationItem.objects.get(queue=queue, candidate_b=written)
    assert item.turn == 3 and item.candidate_a.turn == 3

    page.goto(f"{live_server.url}/annotation/dialogues/{dialogue.pk}/turns/3/branch/")
    page.fill("input[name=count]", "9")  # out of range: the browser refuses it before posting (the server
    page.click("form[action$='/generate/'] button[type=submit]")  # refuses it too: test_branch_generate.py)
    assert page.locator("input[name=count]").evaluate("el => !el.validity.valid")
    assert not BranchGeneration.objects.exists()
    page.fill("input[name=count]", "2")
    page.click("form[action$='/generate/'] button[type=submit]")
    page.wait_for_selector("#generations [data-status=queued]")
    generation = BranchGeneration.objects.get()
    assert (generation.count, generation.turn, generation.status) == (2, 3, "queued")
    assert [(g.pk, g.queue) for g in sent] == [(generation.pk, "gpu")]
    assert page.locator("#generations").get_attribute("hx-trigger") == "every 3s"  # polls while queued
    screenshot("branch_generating")
