"""Reward pages: roles, the editor's save and its 4xx on bad input, the diff, one-click examples."""

from __future__ import annotations

import copy
import json

import pytest
from django.urls import reverse

from kernel.models import AuditEvent
from rewards import forms as reward_forms
from rewards.models import RewardConfig, RubricVersion, RuleSetVersion
from rewards.services import configs
from rewards.services.seed import reward_defaults_seed
from tests.rewards import factories as f

pytestmark = pytest.mark.django_db

LIST = reverse("rewards:config_list")
EDIT = reverse("rewards:rule_set_edit", args=["default"])
DIFF = reverse("rewards:rule_set_diff", args=["default"])


@pytest.fixture
def ml(client_for):
    reward_defaults_seed()
    return client_for("ml_engineer")


def edited(**points) -> str:
    document = copy.deepcopy(RuleSetVersion.objects.get(name="default", version=1).document)
    for rule in document["rules"]:
        if rule["id"] in points:
            rule["points"] = points[rule["id"]]
    return json.dumps(document)


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_other_roles_get_403(client_for, role):
    client = client_for(role)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("rewards:playground")).status_code == 403


def test_first_visit_seeds_and_lists_the_default_rule_set(client_for):
    page = client_for("ml_engineer").get(LIST)
    assert page.status_code == 200
    assert RuleSetVersion.objects.filter(name="default", version=1).exists()
    assert b'href="/jobs/rewards/rule-sets/default/"' in page.content


def test_detail_shows_rules_and_versions(ml):
    page = ml.get(reverse("rewards:rule_set_detail", args=["default"])).content.decode()
    assert "internal_term_leak" in page and "must trigger" in page and "v1" in page
    assert ml.get(reverse("rewards:rule_set_version", args=["default", 7])).status_code == 404
    assert ml.get(reverse("rewards:rule_set_detail", args=["nope"])).status_code == 404


def test_edit_saves_a_new_version_and_redirects_to_its_diff(ml):
    response = ml.post(EDIT, {"document": edited(too_long=-12), "note": "longer replies cost more", "base_version": 1})
    assert response.status_code == 302
    assert response["Location"] == f"{DIFF}?a=1&b=2"
    diff = ml.get(response["Location"]).content.decode()
    assert "too_long" in diff and "-10.0" in diff and "-12" in diff and "longer replies cost more" in diff
    assert AuditEvent.objects.filter(action="rule_set.save").count() == 2  # seed + this save


@pytest.mark.parametrize(
    ("document", "note", "message"),
    [
        ("{not json", "x", "Not valid JSON (line 1, column 2)"),
        ("[1, 2]", "x", "The document must be a JSON object."),
        ('{"rules": [{"id": "format", "points": -1, "params": {"patterns": ["(["]}}]}', "x", "bad regex"),
        (None, "", "This field is required."),
    ],
    ids=["bad-json", "not-object", "bad-regex", "no-note"],
)
def test_bad_edits_are_400_with_the_reason_and_save_nothing(ml, document, note, message):
    response = ml.post(EDIT, {"document": document or edited(too_long=-12), "note": note, "base_version": 1})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert RuleSetVersion.objects.count() == 1


def test_error_text_is_escaped(ml):
    document = '{"rules": [{"id": "<b>x</b>", "points": -1}]}'
    page = ml.post(EDIT, {"document": document, "note": "x", "base_version": 1}).content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_diff_rejects_bad_version_numbers(ml):
    assert ml.get(DIFF, {"a": "x", "b": "1"}).status_code == 400
    assert ml.get(DIFF, {"a": "1", "b": "9"}).status_code == 404
    assert ml.get(DIFF).status_code == 200  # latest against its predecessor (v1 against itself here)


def test_bad_case_one_click_saves_and_refusal_is_400(ml):
    bad = f.bad_case(category="internal_term_leak")
    url = reverse("rewards:example_from_bad_case", args=[bad.pk])
    assert ml.get(url).status_code == 405
    response = ml.post(url)
    assert response.status_code == 302 and response["Location"] == f"{DIFF}?a=1&b=2"
    again = ml.post(url)
    assert again.status_code == 400 and "already a must-trigger example" in again.content.decode()
    assert ml.post(url, {"rule": "not a slug!"}).status_code == 400
    assert ml.post(reverse("rewards:example_from_bad_case", args=[999999])).status_code == 404
    assert RuleSetVersion.objects.filter(name="default").count() == 2


def test_excellent_one_click(ml):
    excellent = f.excellent(turn=2)
    response = ml.post(reverse("rewards:example_from_excellent", args=[excellent.pk]))
    assert response.status_code == 302
    latest = RuleSetVersion.objects.get(name="default", version=2)
    assert all(r["examples"]["clean"][-1]["reply"] == f.MESSAGES_EN[2][1] for r in latest.document["rules"])


def test_the_editor_round_trip_saves_what_it_shows(ml):
    form = ml.get(EDIT).context["form"]
    document = json.loads(form.initial["document"])
    assert "version" not in document  # the save assigns it
    document["rules"][0]["params"]["terms"].append("chase list")
    response = ml.post(EDIT, {"document": json.dumps(document), "note": "one more term", "base_version": 1})
    assert response.status_code == 302
    assert "chase list" in RuleSetVersion.objects.get(name="default", version=2).document["rules"][0]["params"]["terms"]


NEW_CONFIG = reverse("rewards:config_new")


def test_new_reward_config_pins_versions_and_is_audited(ml):
    rule_set = RuleSetVersion.objects.get(name="default", version=1)
    rubric = RubricVersion.objects.get(name="default", version=1)
    response = ml.post(
        NEW_CONFIG,
        {
            "name": "repo-default",
            "rule_set": rule_set.pk,
            "rubric": rubric.pk,
            "n": "100",
            "judge_base_url": "http://127.0.0.1:8000/v1/",
            "judge_model": "judge",
        },
    )
    assert response.status_code == 302
    config = RewardConfig.objects.get(name="repo-default")
    assert (config.rule_set, config.rubric, config.judge_base_url) == (rule_set, rubric, "http://127.0.0.1:8000/v1")
    assert AuditEvent.objects.filter(action="reward_config.create", object_id=str(config.pk)).exists()
    assert "repo-default" in ml.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"judge_base_url": "http://x/v1"}, configs.JUDGE_NEEDS_MODEL_AND_RUBRIC),
        ({}, configs.EMPTY_CONFIG),
        ({"judge_base_url": "not a url at all"}, reward_forms.BAD_ENDPOINT),
        ({"n": "0"}, "Ensure this value is greater than or equal to 0.001."),
        ({"name": "dup", "rule_set": "@rs"}, "Reward config with this Name already exists."),
    ],
)
def test_bad_reward_configs_are_400_and_write_nothing(ml, fields, message):
    rule_set = RuleSetVersion.objects.get(name="default", version=1)
    RewardConfig.objects.create(name="dup", rule_set=rule_set)
    data = {"name": "c", "n": "100", **fields}
    data = {k: rule_set.pk if v == "@rs" else v for k, v in data.items()}
    response = ml.post(NEW_CONFIG, data)
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert RewardConfig.objects.count() == 1


def test_rubric_pages_and_a_stage_typo_is_a_form_error(ml):
    f.sop()
    detail = ml.get(reverse("rewards:rubric_detail", args=["default"])).content.decode()
    assert "over_promise" in detail and "all stages" in detail
    form = ml.get(reverse("rewards:rubric_edit", args=["default"])).context["form"]
    document = json.loads(form.initial["document"])
    document["rules"][0]["stages"] = ["persuade", "persuasion"]
    url = reverse("rewards:rubric_edit", args=["default"])
    response = ml.post(url, {"document": json.dumps(document), "note": "typo", "base_version": 1})
    assert response.status_code == 400
    assert "stage filter &#x27;persuasion&#x27; names no SOP stage" in response.content.decode()
    document["rules"][0]["stages"] = ["persuade"]
    assert ml.post(url, {"document": json.dumps(document), "note": "fixed", "base_version": 1}).status_code == 302
    assert RubricVersion.objects.filter(name="default").count() == 2


def test_a_refused_one_click_opens_the_editor_with_the_example_in_place(ml):
    reply = "Hmm, can you stretch a little more?"  # no default push cue matches
    dialogue = f.dialogue(messages=[*f.MESSAGES_EN[:4], ("agent", reply, "continue_chase")])
    bad = f.bad_case(dialogue_row=dialogue, turn=4, category="pushed_after_acceptable_offer")
    refused = ml.post(reverse("rewards:example_from_bad_case", args=[bad.pk]))
    assert refused.status_code == 400
    assert "rule &#x27;continued_after_acceptable_offer&#x27;: example must trigger" in refused.content.decode()
    editor = ml.get(EDIT + "?draft=1")
    assert b'id="draft-note"' in editor.content
    initial = editor.context["form"].initial
    document = json.loads(initial["document"])
    rule = next(r for r in document["rules"] if r["id"] == "continued_after_acceptable_offer")
    assert rule["examples"]["trigger"][-1]["source"] == f"bad_case:{bad.pk}"
    rule["params"]["push_cues"].append("stretch a little more")
    saved = ml.post(EDIT, {"document": json.dumps(document), "note": initial["note"], "base_version": 1})
    assert saved.status_code == 302
    assert RuleSetVersion.objects.get(name="default", version=2).note.startswith(f"Bad case #{bad.pk}")
    assert b'id="draft-note"' not in ml.get(EDIT + "?draft=1").content  # the draft is used up


def test_rubric_page_links_to_the_playground_and_says_when_no_judge_is_configured(ml):
    reward_defaults_seed()
    name = RubricVersion.objects.values_list("name", flat=True).first()
    url = reverse("rewards:rubric_detail", args=[name])
    page = ml.get(url).content.decode()
    assert 'id="rubric-playground"' in page and "No judge configured" in page
    RewardConfig.objects.create(
        name="with-judge", rule_set=RuleSetVersion.objects.first(), judge_base_url="http://127.0.0.1:8001/v1"
    )
    assert "No judge configured" not in ml.get(url).content.decode()


@pytest.mark.parametrize(("char", "words"), [("\\u0000", "NUL character"), ("\\u202e", "bidirectional control")])
def test_a_document_with_unstorable_text_is_a_400_naming_the_document(ml, char, words):
    """Stored as jsonb, which refuses a NUL: the model's limit (kernel/fields.py) refuses it first, in words."""
    document = edited(too_long=-12).replace('"too_long"', f'"too_long{char}"', 1)
    response = ml.post(EDIT, {"document": document, "note": "x", "base_version": 1})
    assert response.status_code == 400
    assert "document:" in response.content.decode() and words in response.content.decode()
    assert RuleSetVersion.objects.count() == 1
