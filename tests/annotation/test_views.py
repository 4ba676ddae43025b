"""The workspace pages through the Django test client: roles, escaping, submission status codes."""

import pytest
from django.urls import reverse

from annotation.forms import QueueCreateForm
from annotation.kinds.pairwise import STRENGTH_REQUIRED
from annotation.models import (
    AnnotationItem,
    AnnotationQueue,
    Answer,
    Assignment,
    Dialogue,
    ExcellentTurn,
    GoldDecision,
    PreferencePair,
)
from annotation.services.answers import ALREADY_SUBMITTED, NOT_YOURS, answer_submit
from annotation.services.assignment import annotation_task_next
from tests.annotation.factories import make_dialogue, make_queue, make_world, side_for
from tests.fixtures.services import make_user

pytestmark = pytest.mark.django_db
SCRIPT = "<script>window.pwned = 1</script> we accept 720"


@pytest.fixture
def world():
    return make_world()


def test_annotator_cannot_open_review_pages(client_for, world):
    client = client_for("language_expert")
    queue = make_queue(world, dialogues=1)
    for url in (
        reverse("annotation:review_queue"),
        reverse("annotation:review_item", args=[1]),
        reverse("annotation:queue_disagreements", args=[queue.pk]),
    ):
        assert client.get(url).status_code == 403
    for name in ("training_jobs:job_list",):
        try:
            url = reverse(name)
        except Exception:  # noqa: BLE001 - the jobs app may not have shipped that page yet
            continue
        assert client.get(url).status_code == 403


def test_task_page_escapes_content_and_shows_keys(client_for, role_users, world):
    make_dialogue(world, hotel_text=SCRIPT)
    queue = make_queue(world, dialogues=0)
    client = client_for("language_expert")
    start = client.get(reverse("annotation:task_next", args=[queue.pk]))
    assert start.status_code == 200 and not Assignment.objects.exists()  # a GET reserves nothing
    response = client.post(reverse("annotation:task_next", args=[queue.pk]))
    assert response.status_code == 302
    assert client.get(reverse("annotation:task_next", args=[queue.pk]))["Location"] == response["Location"]
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html and "<script>window.pwned" not in html
    assert "<kbd>A</kbd>" in html and "<kbd>J</kbd>" in html and "<kbd>Enter</kbd>" in html
    assert "Deluxe King" in html and "690" in html and "Riverside Inn" in html  # case panel
    assert "§2.1" in html  # the stage's clauses
    assert "<strong>Prefer</strong>" in html  # guideline Markdown, sanitised


def test_guideline_markdown_is_sanitised(world):
    from annotation.selectors import guideline_html

    world[
        "guideline"
    ].body_markdown = "# Hi\n\n<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    html = guideline_html(world["guideline"])
    assert "<script>" not in html and "onerror" not in html and "javascript:" not in html and "<h1>Hi</h1>" in html


def test_submit_statuses(client, role_users, world):
    queue = make_queue(world, dialogues=2)
    user, other = role_users["language_expert"], make_user("lang-b", "language_expert")
    assignment = annotation_task_next(user=user, queue=queue)
    url = reverse("annotation:task", args=[assignment.pk])
    client.force_login(other)
    response = client.post(url, {"side": "A", "strength": "2"})
    assert response.status_code == 403 and NOT_YOURS in response.content.decode()
    assert client.get(url).status_code == 403
    client.force_login(user)
    response = client.post(url, {"side": "A"})
    assert response.status_code == 400 and STRENGTH_REQUIRED in response.content.decode()
    assert Answer.objects.count() == 0
    response = client.post(url, {"side": "A", "strength": "2", "reasons": ["tone", "leak"]})
    next_task = Assignment.objects.exclude(pk=assignment.pk).get(user=user)  # the next one, reserved at once
    assert response.status_code == 302 and response["Location"] == reverse("annotation:task", args=[next_task.pk])
    assert PreferencePair.objects.get().reason_codes == ["tone", "leak"]
    response = client.post(url, {"side": "B", "strength": "1"})
    assert response.status_code == 409 and ALREADY_SUBMITTED in response.content.decode()
    assert Answer.objects.count() == 1
    assert client.post(reverse("annotation:task", args=[999999]), {"side": "A"}).status_code == 404


def test_review_flow_through_pages(client, role_users, world):
    queue = make_queue(world, dialogues=1, target_overlap=2, review_sample_rate=0)
    for i, choice in enumerate("ab"):
        user = make_user(f"lx{i}", "language_expert")
        a = annotation_task_next(user=user, queue=queue)
        answer_submit(assignment_id=a.pk, user=user, data={"side": side_for(a, choice), "strength": "2"})
    item = AnnotationItem.objects.get(queue=queue)
    client.force_login(role_users["reviewer"])
    assert f"#{item.pk}" in client.get(reverse("annotation:review_queue")).content.decode()
    page = client.get(reverse("annotation:review_item", args=[item.pk])).content.decode()
    assert "lx0" in page and "lx1" in page
    response = client.post(reverse("annotation:review_item", args=[item.pk]), {"decision": "reject"})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    assert 'id="tie-notice"' in page and 'value="accept" required disabled' in page and " checked" not in page
    response = client.post(reverse("annotation:review_item", args=[item.pk]), {"decision": "accept"})
    assert response.status_code == 400 and "tied 1–1" in response.content.decode()
    fix = {"decision": "fix", "choice": "b", "reason": "B follows §2.1"}
    confirm = client.post(reverse("annotation:review_item", args=[item.pk]), fix)  # whose pair goes, asked first
    body = confirm.content.decode()
    assert confirm.status_code == 200 and "removes the pair of lx0" in body and "keeps the pair of lx1" in body
    assert not GoldDecision.objects.exists()
    response = client.post(reverse("annotation:review_item", args=[item.pk]), {**fix, "confirm": "yes"}, follow=True)
    assert "“Fix” saved. The decision keeps the pair of lx1; removes the pair of lx0." in response.content.decode()
    item.refresh_from_db()
    assert item.gold.choice == "b" and item.status == "resolved"
    disagreements = client.get(reverse("annotation:queue_disagreements", args=[queue.pk])).content.decode()
    assert "lx0: a" in disagreements or "lx0: b" in disagreements


def test_pages_render_for_their_roles(client, role_users, world):
    queue = make_queue(world, dialogues=2, kind="bad_case", lens="bd")
    user = role_users["bd_expert"]
    a = annotation_task_next(user=user, queue=queue)
    answer_submit(
        assignment_id=a.pk,
        user=user,
        data={
            "gold_reply": "Could we agree on 700 <b>today</b>?",
            "category": "tone",
            "severity": "major",
            "clause": "2.1",
        },
    )
    dialogue = a.item.dialogue
    client.force_login(user)
    bad_case = Answer.objects.get().bad_case
    pages = [
        reverse("annotation:workspace"),
        reverse("annotation:queue_detail", args=[queue.pk]),
        reverse("annotation:dashboard"),
        reverse("annotation:project_dashboard", args=[world["project"].pk]),
        reverse("annotation:dialogue", args=[dialogue.pk]),
        reverse("annotation:branch", args=[dialogue.pk, 3]),
        reverse("annotation:excellent_list"),
        reverse("annotation:bad_cases"),
        reverse("annotation:bad_case", args=[bad_case.pk]),
        reverse("annotation:history", args=["item", a.item_id]),
        reverse("annotation:guideline", args=[world["guideline"].pk]),
    ]
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
    html = client.get(reverse("annotation:bad_case", args=[bad_case.pk])).content.decode()
    assert 'class="diff-add">+Could we agree on 700 &lt;b&gt;today&lt;/b&gt;?' in html
    response = client.post(reverse("annotation:excellent_add", args=[dialogue.pk, 5]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and ExcellentTurn.objects.filter(dialogue=dialogue, turn=5).exists()
    assert client.post(reverse("annotation:excellent_add", args=[dialogue.pk, 5])).status_code == 409
    response = client.post(reverse("annotation:branch", args=[dialogue.pk, 3]), {"text": "Shall we say 700?"})
    assert response.status_code == 302
    assert client.post(reverse("annotation:branch", args=[dialogue.pk, 2]), {"text": "x"}).status_code == 400


def test_queue_creation_page(client, role_users, world):
    for _ in range(2):
        make_dialogue(world)
    client.force_login(role_users["language_expert"])
    assert client.get(reverse("annotation:queue_new")).status_code == 403
    client.force_login(role_users["ml_engineer"])
    data = {
        "project": world["project"].pk,
        "name": "lang pairs",
        "kind": "pairwise",
        "lens": "language",
        "target_overlap": 2,
        "reservation_minutes": 30,
        "review_sample_rate": 0.1,
    }
    response = client.post(reverse("annotation:queue_new"), data)
    assert response.status_code == 302
    assert AnnotationItem.objects.filter(queue__name="lang pairs").count() == 2
    assert client.post(reverse("annotation:queue_new"), data).status_code == 400  # duplicate name
    assert Assignment.objects.count() == 0


def test_queue_form_speaks_words_preselects_the_project_and_previews_the_count(client, role_users, world):
    from annotation.models import Project

    for _ in range(3):
        make_dialogue(world)
    Project.objects.exclude(pk=world["project"].pk).delete()
    client.force_login(role_users["ml_engineer"])
    html = client.get(reverse("annotation:queue_new")).content.decode()
    assert "Annotators per item" in html and "Target overlap" not in html and "Sop:" not in html
    project_select = html.split('name="project"')[1].split("</select>")[0]
    assert f'<option value="{world["project"].pk}" selected>' in project_select and "-----" not in project_select
    stage_select = html.split('name="stage"')[1].split("</select>")[0]
    assert "<option" in stage_select and "any stage" in stage_select  # the SOP's stages, not free text
    data = {
        "project": world["project"].pk,
        "name": "preview me",
        "kind": "pairwise",
        "lens": "language",
        "target_overlap": 2,
        "reservation_minutes": 30,
        "review_sample_rate": 0.1,
        "preview": "1",
    }
    preview = client.post(reverse("annotation:queue_new"), data).content.decode()
    assert "3 items match: 3 dialogues, 2 answers each." in preview
    assert not AnnotationQueue.objects.filter(name="preview me").exists()
    assert client.post(reverse("annotation:queue_new"), {**data, "stage": "no-such-stage"}).status_code == 400


def test_queue_preview_endpoint_counts_live_and_refuses_bad_input_in_words(client, role_users, world):
    """The new-queue form's live count (``queue_preview.js``): the form's fields → JSON; login and a
    manager's role; hostile values a 400 with the field named; an explicit selection of unknown ids
    matches nothing (it matched every dialogue)."""
    for _ in range(3):
        make_dialogue(world)
    url = reverse("annotation:queue_preview_count")
    data = {
        "project": world["project"].pk,
        "kind": "pairwise",
        "lens": "language",
        "target_overlap": 2,
        "reservation_minutes": 30,
        "review_sample_rate": 0.1,
    }
    assert client.get(url, data).status_code == 302  # login first
    client.force_login(role_users["language_expert"])
    assert client.get(url, data).status_code == 403
    client.force_login(role_users["reviewer"])
    body = client.get(url, data).json()
    assert (body["dialogues"], body["items"]) == (3, 3)
    assert body["text"] == "3 items match: 3 dialogues, 2 answers each."
    one = world["project"].dialogues.order_by("id").first()
    body = client.get(url, {**data, "selection": f"{one.external_id}\n"}).json()
    assert (body["dialogues"], body["items"]) == (1, 1) and body["text"].startswith("1 item match: 1 dialogue,")
    body = client.get(url, {**data, "selection": "no-such-dialogue"}).json()
    assert (body["dialogues"], body["items"]) == (0, 0) and "make no items" in body["text"]
    hostile = [
        {"project": "abc"},
        {"project": "999999"},
        {"kind": "<script>"},
        {"target_overlap": "1e309"},
        {"target_overlap": "0"},
        {"review_sample_rate": "nan"},
        {"selection": "x" * 200_001},
    ]
    for bad in hostile:
        response = client.get(url, {**data, **bad})
        assert response.status_code == 400, bad
        assert response.json()["error"].split(":")[0] in {f.label for f in QueueCreateForm().fields.values()}
    assert client.get(url, {**data, "stage": "\x00"}).status_code == 400  # refused before the view, as a page
    assert client.post(url, data).status_code == 405
    assert not AnnotationQueue.objects.exists()


def test_queue_creation_filters_by_hotel_type(client, role_users, world):
    """The hotel-type filter offers the values cases are stored with (it offered "Business" for "business",
    so filtering by hotel type refused every choice or matched nothing)."""
    make_dialogue(world)  # a business hotel
    client.force_login(role_users["ml_engineer"])
    data = {
        "project": world["project"].pk,
        "kind": "rating",
        "lens": "bd",
        "target_overlap": 1,
        "reservation_minutes": 30,
        "review_sample_rate": 0.1,
    }
    response = client.post(reverse("annotation:queue_new"), {**data, "name": "business", "hotel_type": "business"})
    assert response.status_code == 302
    assert AnnotationItem.objects.filter(queue__name="business").count() == 1
    response = client.post(reverse("annotation:queue_new"), {**data, "name": "resorts", "hotel_type": "resort"})
    assert response.status_code == 400 and "no items" in response.content.decode()


def test_queue_can_be_closed_and_reopened(client, role_users, world):
    queue = make_queue(world, dialogues=1)
    url = reverse("annotation:queue_toggle", args=[queue.pk])
    client.force_login(role_users["language_expert"])
    assert client.post(url).status_code == 403
    client.force_login(role_users["reviewer"])
    assert client.post(url).status_code == 302
    queue.refresh_from_db()
    assert not queue.is_active
    client.force_login(role_users["language_expert"])
    assert client.post(reverse("annotation:task_next", args=[queue.pk])).status_code == 409
    assert queue.name not in client.get(reverse("annotation:workspace")).content.decode()


def test_skip_gives_the_task_back_and_serves_the_next(client, role_users, world):
    queue = make_queue(world, dialogues=2)
    user, other = role_users["language_expert"], make_user("lang-c", "language_expert")
    client.force_login(user)
    first = Assignment.objects.get(pk=_start(client, queue))
    response = client.post(reverse("annotation:task_release", args=[first.pk]), {"then": "next"})
    first.refresh_from_db()
    assert first.status == "expired" and response.status_code == 302
    second = Assignment.objects.exclude(pk=first.pk).get(user=user)
    assert second.item_id != first.item_id and response["Location"] == reverse("annotation:task", args=[second.pk])
    assert AnnotationItem.objects.get(pk=first.item_id).slots_taken == 0
    # Releasing twice, or someone else's task, is a 409 in words, never a 500.
    again = client.post(reverse("annotation:task_release", args=[first.pk]), {"then": "stop"})
    assert again.status_code == 409 and "nothing to release" in again.content.decode()
    client.force_login(other)
    assert client.post(reverse("annotation:task_release", args=[second.pk])).status_code == 409
    # The skipped item goes to someone else.
    assert Assignment.objects.get(pk=_start(client, queue)).item_id == first.item_id


def test_release_and_stop_goes_back_to_the_queues_with_a_message(client, role_users, world):
    queue = make_queue(world, dialogues=1)
    client.force_login(role_users["language_expert"])
    held = _start(client, queue)
    response = client.post(reverse("annotation:task_release", args=[held]), {"then": "stop"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("annotation:workspace")
    assert "Released: the task went back to the queue" in response.content.decode()


def test_task_page_shows_progress_and_the_previous_answer(client, role_users, world):
    queue = make_queue(world, dialogues=2)
    client.force_login(role_users["language_expert"])
    held = _start(client, queue)
    html = client.get(reverse("annotation:task", args=[held])).content.decode()
    assert "You answered 0 items here" in html and "Skip <kbd>S</kbd>" in html and "go-back" not in html
    response = client.post(reverse("annotation:task", args=[held]), {"side": "equal"}, follow=True)
    html = response.content.decode()
    assert "Answer saved." in html and "You answered 1 item here" in html and 'id="go-back"' in html
    mine = client.get(reverse("annotation:answer_previous", args=[queue.pk])).content.decode()
    assert "Equal" in mine and 'id="back-to-task"' in mine


def test_bad_case_nothing_wrong_makes_no_bad_case(client, role_users, world):
    from annotation.models import BadCase

    queue = make_queue(world, dialogues=1, kind="bad_case", lens="bd")
    client.force_login(role_users["bd_expert"])
    held = _start(client, queue)
    html = client.get(reverse("annotation:task", args=[held])).content.decode()
    assert "Nothing wrong: this reply is fine" in html and "<kbd>N</kbd>" in html
    assert client.post(reverse("annotation:task", args=[held]), {"verdict": "nothing_wrong"}).status_code == 302
    answer = Answer.objects.get()
    assert answer.scores["category"] == "nothing_wrong" and answer.bad_case is None
    assert not BadCase.objects.exists()


def _start(client, queue) -> int:
    response = client.post(reverse("annotation:task_next", args=[queue.pk]))
    assert response.status_code == 302, response
    return int(response["Location"].rstrip("/").split("/")[-1])


def test_dialogue_browser_searches_filters_and_paginates(client, role_users, world):
    from annotation.selectors import DIALOGUES_PER_PAGE

    for _ in range(DIALOGUES_PER_PAGE + 2):
        make_dialogue(world)
    client.force_login(role_users["language_expert"])
    first = client.get(reverse("annotation:dialogues"))
    html = first.content.decode()
    assert first.status_code == 200 and f"{DIALOGUES_PER_PAGE + 2} dialogues" in html and "Page 1 of 2" in html
    dialogue = Dialogue.objects.order_by("id").first()
    assert (
        reverse("annotation:dialogue", args=[dialogue.pk])
        in client.get("/annotation/dialogues/?page=2").content.decode()
    )
    found = client.get(reverse("annotation:dialogues"), {"q": dialogue.external_id}).content.decode()
    assert "1 dialogue matches the filter" in found
    assert "0 dialogues" in client.get(reverse("annotation:dialogues"), {"source": "nonsense"}).content.decode()
    assert client.get(reverse("annotation:dialogues"), {"page": "abc", "project": "x"}).status_code == 200
    client.force_login(role_users["evaluator"])
    assert client.get(reverse("annotation:dialogues")).status_code == 403


def test_saving_a_branch_alternative_flashes_and_lists_it(client, role_users, world):
    dialogue = make_dialogue(world)
    client.force_login(role_users["language_expert"])
    turn = dialogue.messages.filter(role="agent").order_by("index").first().index
    url = reverse("annotation:branch", args=[dialogue.pk, turn])
    response = client.post(url, {"text": "A better reply, with the price at 650."}, follow=True)
    html = response.content.decode()
    assert f"Alternative reply at turn #{turn} saved" in html
    assert 'id="alternatives"' in html and "A better reply, with the price at 650." in html


def test_closing_a_queue_says_so_in_words(client, role_users, world):
    queue = make_queue(world, dialogues=1)
    client.force_login(role_users["reviewer"])
    closed = client.post(reverse("annotation:queue_toggle", args=[queue.pk]), follow=True).content.decode()
    assert f"Queue {queue.name} closed: nobody gets new tasks from it" in closed
    reopened = client.post(reverse("annotation:queue_toggle", args=[queue.pk]), follow=True).content.decode()
    assert f"Queue {queue.name} reopened" in reopened


def test_dialogue_pages_name_stages_in_words_and_offer_only_what_the_role_may_open(client, role_users, world):
    """An ML engineer reads dialogues but may not branch, flag or edit bad cases: no links into a refusal.
    Stages are shown as the SOP names them ("Price discussion"), not by key ("pricing")."""
    from annotation.models import BadCase

    dialogue = make_dialogue(world)
    bad = BadCase.objects.create(
        dialogue=dialogue, turn=3, model_reply="x", category="tone", gold_reply="y", status="gold_written"
    )
    url = reverse("annotation:dialogue", args=[dialogue.pk])
    branch = reverse("annotation:branch", args=[dialogue.pk, 3])
    editor = reverse("annotation:bad_case", args=[bad.pk])
    client.force_login(role_users["ml_engineer"])
    html = client.get(url).content.decode()
    assert "Price discussion" in html and '<span class="tag" title="pricing">' in html
    assert branch not in html and editor not in html and "flag excellent" not in html
    assert editor not in client.get(reverse("annotation:bad_cases")).content.decode()
    client.force_login(role_users["reviewer"])
    html = client.get(url).content.decode()
    assert branch in html and editor in html and "flag excellent" in html
    assert editor in client.get(reverse("annotation:bad_cases")).content.decode()
    page = client.get(branch).content.decode()
    assert "SOP · stage" in page and "Price discussion" in page
    assert reverse("registry:model_list") not in page and "an ML engineer registers one" in page
