"""The reward pages in a real browser: edit a rule set (a refused save, then Ctrl+S), the diff, the playground,
and a bad case turned into a rule example with one click."""

import json

import pytest

from tests.rewards import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def set_document(page, change) -> None:
    """Edit the JSON in the editor the way a user's paste would (then fire ``input`` for the live check)."""
    document = json.loads(page.input_value("#id_document"))
    change(document)
    page.fill("#id_document", json.dumps(document, indent=2, ensure_ascii=False))


def rule(document: dict, rule_id: str) -> dict:
    return next(r for r in document["rules"] if r["id"] == rule_id)


def test_edit_diff_and_playground(page, login, live_server, role_users, screenshot):
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/jobs/rewards/")
    screenshot("rewards-list")
    page.click("text=default >> nth=0")
    page.click("#edit-json")  # the advanced JSON editor
    assert page.locator("#json-status").inner_text().startswith("JSON is well-formed")

    # A bad regex: refused with the rule named, nothing saved.
    set_document(page, lambda d: rule(d, "forbidden_word")["params"].update(patterns=["(unclosed"]))
    page.fill("#id_note", "try a pattern")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#save-errors")
    assert "rule 'forbidden_word': bad regex" in page.inner_text("#save-errors")
    screenshot("editor-refused")

    # A real change, saved with the keyboard: lands on the field-level diff.
    def change(document):
        rule(document, "forbidden_word")["params"].pop("patterns", None)
        rule(document, "forbidden_word")["params"]["terms"].append("promise you")
        rule(document, "too_long")["points"] = -12

    set_document(page, change)
    page.fill("#id_note", "promises cost more; too_long -12")
    screenshot("editor")
    page.keyboard.press("Control+s")
    page.wait_for_url("**/diff/?a=1&b=2")
    diff = page.inner_text(".diff")
    assert "forbidden_word" in diff and "+ promise you" in diff and "-10.0 → -12" in diff
    screenshot("diff")

    # The playground: "/" focuses the dialogue search, the turn list loads, Ctrl+Enter scores.
    dialogue = f.dialogue(external_id="E2E-0001")
    f.bad_case(dialogue_row=dialogue, turn=4)
    page.goto(f"{live_server.url}/jobs/rewards/playground/")
    page.keyboard.press("/")
    page.keyboard.type("E2E-0001")
    page.locator("#id_dialogue").dispatch_event("change")
    page.wait_for_selector("#id_turn option[value='4']", state="attached")
    page.select_option("#id_turn", "4")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".reply-marked mark")
    assert page.inner_text("#verdict-internal_term_leak").count("fired") == 1
    assert "No judge endpoint in this config." in page.inner_text("#judge-note")
    screenshot("playground")

    # One click: the turn's bad case becomes a must-trigger example in v3, shown as its diff.
    page.click("text=+ example of internal_term_leak")
    page.wait_for_url("**/diff/?a=2&b=3")
    assert "examples.trigger" in page.inner_text(".diff")
    screenshot("one-click-example")


def test_edit_a_rule_row_bad_regex_refused_then_saved(page, login, live_server, role_users, screenshot):
    """A non-engineer's path: the rule-by-rule editor, a bad regex refused on its row in words, then saved."""
    login(role_users["ml_engineer"])
    page.goto(f"{live_server.url}/jobs/rewards/")
    page.click("text=default >> nth=0")
    page.click("#edit-rows")
    page.wait_for_selector("#rows-editor")
    screenshot("rows-editor")
    row = page.locator("fieldset.rule-row", has=page.locator("legend", has_text="forbidden_word"))
    row.locator("textarea[name$='-patterns']").fill("(unclosed")
    page.fill("#id_note", "catch unfinished threats")
    page.click("#save")
    page.wait_for_selector("#save-errors")
    row = page.locator("fieldset.rule-row", has=page.locator("legend", has_text="forbidden_word"))
    assert "has-errors" in row.get_attribute("class")
    message = row.locator(".field-patterns .field-error").inner_text()
    assert "bad regex '(unclosed'" in message
    assert "1 rule needs a change" in page.inner_text("#save-errors")
    screenshot("rows-editor-bad-regex")

    row.locator("textarea[name$='-patterns']").fill(r"you will regret\b")
    row.locator("input[name$='-points']").fill("-25")
    page.fill("#id_note", "catch threats; forbidden words cost 25")
    page.click("#save")
    page.wait_for_url("**/diff/?a=1&b=2")
    diff = page.inner_text(".diff")
    assert "forbidden_word" in diff and "-20.0 → -25" in diff
    screenshot("rows-editor-saved-diff")
