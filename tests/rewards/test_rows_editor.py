"""The row editor of rule sets and rubrics: one form per rule, validation messages on their row, the same
save (new version, examples run) as the JSON editor, and hostile input answered with a 4xx."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from engine.rewards.rubric import default_rubric
from engine.rewards.rules import default_rule_set
from rewards.models import RubricVersion, RuleSetVersion
from rewards.row_forms import BAD_ID, POSITIVE_POINTS, RuleRowForm
from rewards.services.seed import reward_defaults_seed

pytestmark = pytest.mark.django_db

ROWS = reverse("rewards:rule_set_rows", args=["default"])
RUBRIC_ROWS = reverse("rewards:rubric_rows", args=["default"])


@pytest.fixture
def ml(client_for):
    reward_defaults_seed()
    return client_for("ml_engineer")


def post_data(page, **changes) -> dict:
    """What the browser would post for the page's forms, with ``changes`` applied (field name → value)."""
    form = page.context["formset"]
    data = {f"{form.prefix}-{k}": v for k, v in form.management_form.initial.items()}
    for sub in form.forms:
        for name, field in sub.fields.items():
            value = sub.initial.get(name, field.initial)
            if name == "DELETE" or value in (None, False):
                continue
            key = sub.add_prefix(name)
            if isinstance(value, list):
                data[key] = value
            else:
                data[key] = "on" if value is True else str(value)
    data["base_version"] = page.context["note_form"].initial["base_version"]
    data["note"] = "row edit"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def rule_index(page, rule_id: str) -> int:
    return next(i for i, f in enumerate(page.context["formset"].forms) if f.initial.get("id") == rule_id)


@pytest.mark.parametrize("role", ["language_expert", "bd_expert", "reviewer", "evaluator"])
def test_other_roles_get_403(client_for, role):
    reward_defaults_seed()
    assert client_for(role).get(ROWS).status_code == 403
    assert client_for(role).get(RUBRIC_ROWS).status_code == 403


def test_every_rule_is_a_row_and_the_json_editor_is_the_advanced_option(ml):
    page = ml.get(ROWS)
    assert page.status_code == 200
    ids = [f.initial.get("id") for f in page.context["formset"].forms if f.initial]
    assert ids == [r.id for r in default_rule_set().rules]
    html = page.content.decode()
    assert 'id="advanced-json"' in html and reverse("rewards:rule_set_edit", args=["default"]) in html
    assert "ticket" in page.context["formset"].forms[rule_index(page, "internal_term_leak")].initial["terms"]
    detail = ml.get(reverse("rewards:rule_set_detail", args=["default"])).content.decode()
    assert ROWS in detail and 'id="edit-json"' in detail


def test_saving_rows_unchanged_but_one_point_makes_the_next_version_and_keeps_examples(ml):
    page = ml.get(ROWS)
    i = rule_index(page, "too_long")
    response = ml.post(ROWS, post_data(page, **{f"rule-{i}-points": "-12"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    v2 = RuleSetVersion.objects.get(name="default", version=2)
    v1 = RuleSetVersion.objects.get(name="default", version=1)
    by_id = {r["id"]: r for r in v2.document["rules"]}
    assert by_id["too_long"]["points"] == -12
    old = {r["id"]: r for r in v1.document["rules"]}
    for rule_id, rule in old.items():  # examples, params and everything else carried over
        if rule_id != "too_long":
            assert by_id[rule_id] == rule, rule_id
    assert by_id["too_long"]["examples"] == old["too_long"]["examples"]


def test_a_bad_regex_is_refused_on_its_row_with_the_reason(ml):
    page = ml.get(ROWS)
    n = len(page.context["formset"].forms) - 1  # the blank "add a rule" row
    response = ml.post(
        ROWS,
        post_data(
            page,
            **{
                f"rule-{n}-id": "no_shouting",
                f"rule-{n}-kind": "pattern",
                f"rule-{n}-enabled": "on",
                f"rule-{n}-points": "-5",
                f"rule-{n}-patterns": "(unclosed",
            },
        ),
    )
    assert response.status_code == 400
    form = response.context["formset"].forms[n]
    assert any("bad regex '(unclosed'" in e for e in form.errors["patterns"])
    assert "bad regex" in response.content.decode() and f'id="row-{n}"' in response.content.decode()
    assert RuleSetVersion.objects.filter(name="default").count() == 1


def test_a_new_pattern_rule_saves_and_an_untouched_blank_row_is_ignored(ml):
    page = ml.get(ROWS)
    n = len(page.context["formset"].forms) - 1
    data = post_data(
        page,
        **{
            f"rule-{n}-id": "no_shouting",
            f"rule-{n}-kind": "pattern",
            f"rule-{n}-enabled": "on",
            f"rule-{n}-points": "-5",
            f"rule-{n}-description": "Shouting at the hotel.",
            f"rule-{n}-terms": "calm down\nlisten to me",
            f"rule-{n}-patterns": r"!{3,}",
        },
    )
    assert ml.post(ROWS, data).status_code == 302
    rule = {r["id"]: r for r in RuleSetVersion.objects.get(name="default", version=2).document["rules"]}["no_shouting"]
    assert rule["params"] == {"terms": ["calm down", "listen to me"], "patterns": [r"!{3,}"]}
    assert rule["points"] == -5 and rule["kind"] == "pattern"
    unchanged = ml.get(ROWS)
    assert ml.post(ROWS, post_data(unchanged, note="nothing")).status_code == 400  # no change: refused in words


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("points", "5", POSITIVE_POINTS),
        ("points", "lots", "Enter a number."),
        ("id", "Bad Id!", BAD_ID),
        ("params", "{broken", "Other parameters: not valid JSON (line 1"),
        ("patterns", "Capital", "upper-case"),
    ],
)
def test_row_validation_messages(ml, field, value, message):
    page = ml.get(ROWS)
    i = rule_index(page, "forbidden_word")
    response = ml.post(ROWS, post_data(page, **{f"rule-{i}-{field}": value}))
    assert response.status_code == 400
    errors = " ".join(response.context["formset"].forms[i].errors.get(field, []))
    assert message in errors
    assert RuleSetVersion.objects.filter(name="default").count() == 1


def test_example_failures_land_on_the_rule_row(ml):
    page = ml.get(ROWS)
    i = rule_index(page, "internal_term_leak")
    response = ml.post(ROWS, post_data(page, **{f"rule-{i}-terms": "zzzz never said"}))
    assert response.status_code == 400
    form = response.context["formset"].forms[i]
    assert any("must trigger" in e for e in form.non_field_errors()), form.errors


def test_duplicate_ids_and_removing_a_rule(ml):
    page = ml.get(ROWS)
    a, b = rule_index(page, "too_long"), rule_index(page, "forbidden_word")
    response = ml.post(ROWS, post_data(page, **{f"rule-{b}-id": "too_long"}))
    assert response.status_code == 400
    assert "already uses the id 'too_long'" in " ".join(response.context["formset"].forms[b].errors["id"])
    assert ml.post(ROWS, post_data(page, **{f"rule-{a}-DELETE": "on"})).status_code == 302
    ids = [r["id"] for r in RuleSetVersion.objects.get(name="default", version=2).document["rules"]]
    assert "too_long" not in ids and len(ids) == len(default_rule_set().rules) - 1


@pytest.mark.parametrize(
    "changes",
    [
        {"rule-TOTAL_FORMS": "abc"},
        {"rule-TOTAL_FORMS": "100000"},
        {"rule-0-points": "1e400"},
        {"base_version": "99"},
        {"base_version": "x"},
        {"rule-0-id": "<script>alert(1)</script>"},
    ],
)
def test_hostile_posts_are_4xx(ml, changes):
    page = ml.get(ROWS)
    response = ml.post(ROWS, post_data(page, **changes))
    assert 400 <= response.status_code < 500
    assert b"<script>alert(1)</script>" not in response.content
    assert RuleSetVersion.objects.filter(name="default").count() == 1


def test_rubric_rows_edit_points_and_stages_with_messages(ml):
    page = ml.get(RUBRIC_ROWS)
    assert page.status_code == 200
    forms = page.context["formset"].forms
    i = next(i for i, f in enumerate(forms) if f.initial.get("id") == "over_promise")
    zero = ml.post(RUBRIC_ROWS, post_data(page, **{f"rule-{i}-points": "0"}))
    assert zero.status_code == 400 and "must not be 0" in " ".join(zero.context["formset"].forms[i].errors["points"])
    bad_id = ml.post(RUBRIC_ROWS, post_data(page, **{f"rule-{i}-id": "Bad Id!"}))
    assert bad_id.status_code == 400 and BAD_ID in bad_id.context["formset"].forms[i].errors["id"]
    bad_stage = ml.post(RUBRIC_ROWS, post_data(page, **{f"rule-{i}-stages": ["no_such_stage"]}))
    assert bad_stage.status_code == 400 and "stages" in bad_stage.context["formset"].forms[i].errors
    saved = ml.post(RUBRIC_ROWS, post_data(page, **{f"rule-{i}-points": "-22", f"rule-{i}-stages": ["persuade"]}))
    assert saved.status_code == 302
    rule = {r["id"]: r for r in RubricVersion.objects.get(name="default", version=2).document["rules"]}["over_promise"]
    assert rule["points"] == -22 and rule["stages"] == ["persuade"]


INTERNAL_DOCS = re.compile(r"\.md\b|DESIGN|PAPER\b|DOMAIN\b|STYLE\b|ANNOTATION\b|\bissue \d", re.IGNORECASE)


def test_rule_and_rubric_descriptions_cite_no_internal_document():
    rubric = default_rubric().to_dict()["rules"]
    texts = [r.description for r in default_rule_set().rules] + [r["description"] for r in rubric]
    assert texts and all(t.strip() for t in texts)
    assert [t for t in texts if INTERNAL_DOCS.search(t)] == []


def test_row_initial_splits_word_lists_from_other_parameters():
    rule = {"id": "x", "kind": "pattern", "points": -1, "params": {"terms": ["a", "b"], "k": 1}}
    initial = RuleRowForm.initial_for(rule)
    assert initial["terms"] == "a\nb" and initial["params"] == '{"k": 1}'
