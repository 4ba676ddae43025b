"""In a real browser: the new-queue form's live item count, and changing an earlier pairwise answer from
"Your previous answers" (the panel filled with it, saved, the page saying so)."""

import pytest

from annotation.models import AnnotationQueue, Answer, PreferencePair
from tests.annotation.factories import make_dialogue, make_queue, make_world
from tests.fixtures.services import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_queue_form_counts_items_as_the_filters_change(page, login, live_server, screenshot):
    world = make_world()
    dialogues = [make_dialogue(world) for _ in range(3)]
    login(make_user("rita", "reviewer"))
    page.goto(f"{live_server.url}/annotation/queues/new/")
    preview = page.locator("#queue-preview")
    preview.wait_for(state="visible")
    assert page.locator("#preview").is_hidden()  # the button is the no-JavaScript fallback
    page.wait_for_function("() => document.getElementById('queue-preview').textContent.includes('3 items match')")
    page.select_option("select[name=kind]", "rubric")  # one item per agent turn, 3 agent turns per dialogue
    page.wait_for_function("() => document.getElementById('queue-preview').textContent.includes('9 items match')")
    page.fill("textarea[name=selection]", dialogues[0].external_id)
    page.wait_for_function(
        "() => document.getElementById('queue-preview').textContent.includes('3 items match: 1 dialogue')"
    )
    screenshot("queue-new-live-count")
    page.fill("input[name=target_overlap]", "0")
    page.wait_for_function("() => document.getElementById('queue-preview').classList.contains('error')")
    assert "Annotators per item" in preview.inner_text()
    page.fill("textarea[name=selection]", "no-such-dialogue")
    page.fill("input[name=target_overlap]", "2")
    page.wait_for_function("() => document.getElementById('queue-preview').textContent.includes('make no items')")
    screenshot("queue-new-no-items")
    assert not AnnotationQueue.objects.exists()


def test_an_annotator_changes_an_earlier_answer(page, login, live_server, screenshot):
    world = make_world()
    queue = make_queue(world, dialogues=2, review_sample_rate=0)
    annotator = make_user("anna", "language_expert")
    login(annotator)
    page.goto(f"{live_server.url}/annotation/queues/{queue.pk}/next/")
    page.click("#start")
    page.wait_for_selector("#answer-form[data-keys=ready]")  # keys.js has bound the keys
    page.keyboard.press("a")
    page.keyboard.press("2")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    first = Answer.objects.get(user=annotator)
    page.click("#go-back")
    screenshot("answers-previous-with-change")
    page.click(f"#change-{first.pk}")
    page.wait_for_selector("#changing-note")
    page.wait_for_selector("#answer-form[data-keys=ready]")
    assert page.locator("input[name=side][value=A]").is_checked()
    assert page.locator("input[name=strength][value='2']").is_checked()
    assert page.locator("#skip").count() == 0
    page.keyboard.press("e")
    screenshot("answer-change")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("text=Answer changed.")
    first.refresh_from_db()
    assert first.choice == Answer.Choice.EQUAL and first.preference_pair is None
    assert not PreferencePair.objects.exists()
    assert "Equal" in page.locator("#previous-answers").inner_text()
