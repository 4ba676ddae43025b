"""Rule-set and rubric versioning, validation, examples run on save, the diff, one-click examples."""

from __future__ import annotations

import copy

import pytest

from kernel.models import AuditEvent
from rewards.models import RubricVersion, RuleSetVersion
from rewards.services import validation, versions
from rewards.services.diff import document_diff
from rewards.services.examples import (
    NO_RULE_FOR_CATEGORY,
    rule_example_from_bad_case,
    rule_example_from_excellent_turn,
)
from rewards.services.seed import default_rule_set_document, reward_defaults_seed
from rewards.services.versions import RewardDocumentError, rubric_version_create, rule_set_version_create
from tests.rewards import factories as f

pytestmark = pytest.mark.django_db


def rule(document: dict, rule_id: str) -> dict:
    return next(r for r in document["rules"] if r["id"] == rule_id)


def rubric_document(**overrides) -> dict:
    rules = [
        {"id": "emotional_value", "description": "Soothes and shows empathy.", "points": 10, "stages": []},
        {
            "id": "over_promise",
            "description": "Promises bookings or ranking.",
            "points": -30,
            "stages": ["persuade", "accept_close"],
        },
    ]
    return {"version": "1", "rules": rules, **overrides}


@pytest.fixture
def seeded(role_users):
    reward_defaults_seed(user=None)
    return RuleSetVersion.objects.get(name="default", version=1)


# ---- versioning -----------------------------------------------------------------------------------


def test_seed_creates_v1_from_engine_defaults_once(seeded):
    assert seeded.document["version"] == "default@1"
    assert {r["id"] for r in seeded.document["rules"]} >= {"internal_term_leak", "price_mismatch"}
    assert reward_defaults_seed() == []  # idempotent
    assert RuleSetVersion.objects.filter(name="default").count() == 1


def test_save_creates_next_version_with_note_and_audit(seeded, role_users):
    user = role_users["ml_engineer"]
    document = copy.deepcopy(seeded.document)
    rule(document, "too_long")["points"] = -12.0
    row = rule_set_version_create(
        name="default", document=document, note="too_long costs more", user=user, base_version=1
    )
    assert (row.version, row.note, row.created_by) == (2, "too_long costs more", user)
    assert row.document["version"] == "default@2"
    event = AuditEvent.objects.get(action="rule_set.save", object_id=str(row.pk))
    assert event.actor == user
    assert event.after["changes"] == ["too_long: points: -10.0 → -12.0"]
    seeded.refresh_from_db()
    assert rule(seeded.document, "too_long")["points"] == -10.0  # v1 untouched


def test_save_refuses_without_note_without_changes_and_on_stale_base(seeded, role_users):
    user = role_users["ml_engineer"]
    with pytest.raises(RewardDocumentError) as exc:
        rule_set_version_create(name="default", document=seeded.document, note="  ", user=user)
    assert exc.value.messages == [versions.NOTE_REQUIRED]
    with pytest.raises(RewardDocumentError) as exc:
        rule_set_version_create(name="default", document=seeded.document, note="same", user=user)
    assert exc.value.messages == [versions.NO_CHANGES.format(version=1)]
    document = copy.deepcopy(seeded.document)
    rule(document, "format")["enabled"] = False
    rule_set_version_create(name="default", document=document, note="one", user=user, base_version=1)
    rule(document, "format")["points"] = -5.0
    with pytest.raises(RewardDocumentError) as exc:
        rule_set_version_create(name="default", document=document, note="two", user=user, base_version=1)
    assert exc.value.messages == [versions.STALE_BASE.format(latest=2, name="default", base=1)]
    assert RuleSetVersion.objects.filter(name="default").count() == 2


# ---- validation: a bad document is a message naming the rule, never a crash later ------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: rule(d, "forbidden_word")["params"].update(patterns=["(unclosed"]),
            "rule 'forbidden_word': bad regex",
        ),
        (lambda d: rule(d, "system_leak").pop("points"), "rule 'system_leak': 'points' must be a number"),
        (lambda d: d["rules"].append({"id": "new_rule", "points": -5}), "rule 'new_rule': unknown kind 'new_rule'"),
        (lambda d: rule(d, "format").update(points=5), "rule 'format': points must be <= 0"),
        (
            lambda d: rule(d, "too_long")["examples"]["trigger"].append({"text": "x"}),
            "rule 'too_long': trigger example #3 must be an object with a 'reply' string",
        ),
        (
            lambda d: rule(d, "too_long")["examples"]["clean"].append({"reply": "hi", "language": "fr"}),
            "rule 'too_long': clean example #2 has language 'fr'",
        ),
        (
            lambda d: rule(d, "repetition")["examples"]["clean"].append({"reply": "hi", "history": [{"role": "bot"}]}),
            "rule 'repetition': clean example #2 has a broken history",
        ),
    ],
    ids=[
        "bad-regex",
        "missing-points",
        "unknown-rule-id",
        "positive-points",
        "example-no-reply",
        "example-language",
        "example-history",
    ],
)
def test_bad_documents_are_refused_with_the_rule_named(seeded, role_users, edit, expected):
    document = copy.deepcopy(seeded.document)
    edit(document)
    with pytest.raises(RewardDocumentError) as exc:
        rule_set_version_create(name="default", document=document, note="bad", user=role_users["ml_engineer"])
    assert any(m.startswith(expected) for m in exc.value.messages), exc.value.messages
    assert RuleSetVersion.objects.filter(name="default").count() == 1


def test_examples_run_on_save_and_failures_block_it(seeded, role_users):
    document = copy.deepcopy(seeded.document)
    rule(document, "internal_term_leak")["examples"]["trigger"].append({"reply": "Would 690 work?"})
    rule(document, "forbidden_word")["examples"]["clean"].append({"reply": "We guarantee more bookings."})
    with pytest.raises(RewardDocumentError) as exc:
        rule_set_version_create(name="default", document=document, note="x", user=role_users["ml_engineer"])
    assert exc.value.messages == [
        validation.EXAMPLE_FAILED.format(
            rule="internal_term_leak", want="must trigger", got="no rule fired", reply="Would 690 work?"
        ),
        validation.EXAMPLE_FAILED.format(
            rule="forbidden_word",
            want="must not trigger",
            got="got forbidden_word",
            reply="We guarantee more bookings.",
        ),
    ]


def test_a_new_pattern_rule_with_passing_examples_saves(seeded, role_users):
    document = copy.deepcopy(seeded.document)
    document["rules"].append(
        {
            "id": "no_weekend_promise",
            "kind": "pattern",
            "points": -10,
            "description": "Promises weekend sell-outs.",
            "params": {"patterns": [r"sell[- ]?out (?:every|each) weekend"]},
            "examples": {
                "trigger": [{"reply": "You will sell out every weekend!"}],
                "clean": [{"reply": "Weekends are busy."}],
            },
        }
    )
    row = rule_set_version_create(name="default", document=document, note="new rule", user=role_users["ml_engineer"])
    assert row.version == 2


def test_rubric_stage_filter_must_name_an_sop_stage(role_users):
    f.sop()  # stages of the demo SOP in the database
    user = role_users["ml_engineer"]
    row = rubric_version_create(name="default", document=rubric_document(), note="seed", user=user)
    assert row.version == 1
    bad = rubric_document()
    bad["rules"][1]["stages"] = ["persuade", "haggle"]
    with pytest.raises(RewardDocumentError) as exc:
        rubric_version_create(name="default", document=bad, note="typo", user=user)
    assert exc.value.messages[0].startswith("rubric rule 'over_promise': stage filter 'haggle' names no SOP stage")
    bad = rubric_document()
    bad["rules"].append({"id": "emotional_value", "description": "dup", "points": 1})
    bad["rules"].append({"id": "x", "points": -1})
    with pytest.raises(RewardDocumentError) as exc:
        rubric_version_create(name="default", document=bad, note="dup", user=user)
    assert exc.value.messages == [
        validation.RUBRIC_DUPLICATE.format(rule="emotional_value"),
        validation.RUBRIC_RULE_SHAPE.format(n=4),
    ]
    assert RubricVersion.objects.count() == 1


# ---- diff -----------------------------------------------------------------------------------------


def test_diff_is_field_level_and_readable():
    old = default_rule_set_document()
    new = copy.deepcopy(old)
    rule(new, "forbidden_word")["params"]["terms"].append("promise you")
    rule(new, "too_long")["params"]["max_chars"]["en"] = 500
    rule(new, "repetition")["examples"]["clean"].append({"reply": "Fresh sentence."})
    new["rules"] = [r for r in new["rules"] if r["id"] != "format"]
    new["rules"].append({"id": "mine", "kind": "pattern", "points": -1, "params": {"terms": ["x"]}})
    changes = {c.rule or "(doc)": c for c in document_diff(old=old, new=new)}
    assert changes["forbidden_word"].fields[0].added == ("promise you",)
    assert changes["too_long"].summary() == "too_long: params.max_chars.en: 700 → 500"
    assert changes["repetition"].fields[0].path == "examples.clean"
    assert changes["repetition"].fields[0].added == ("Fresh sentence.",)
    assert changes["format"].status == "removed" and changes["mine"].status == "added"
    assert set(changes) == {"forbidden_word", "too_long", "repetition", "format", "mine"}
    reordered = {**old, "rules": list(reversed(old["rules"])), "version": "9"}
    assert document_diff(old=old, new=reordered) == []


# ---- one click: bad cases and excellent replies become examples ------------------------------------


def test_bad_case_becomes_a_must_trigger_example_in_a_new_version(seeded, role_users):
    bad = f.bad_case(category="internal_term_leak")
    row = rule_example_from_bad_case(bad_case=bad, user=role_users["ml_engineer"])
    assert row.version == 2
    example = rule(row.document, "internal_term_leak")["examples"]["trigger"][-1]
    assert example["reply"] == bad.model_reply and example["source"] == f"bad_case:{bad.pk}"
    assert example["task"]["tickets"][0]["target_price"] == 690.0
    assert [m["role"] for m in example["history"]] == ["agent", "hotel", "agent", "hotel"]
    assert AuditEvent.objects.filter(action="rule_set.save", object_id=str(row.pk)).exists()
    with pytest.raises(RewardDocumentError, match="already a must-trigger example"):
        rule_example_from_bad_case(bad_case=bad, user=role_users["ml_engineer"])


def test_bad_case_the_rule_does_not_catch_blocks_the_save(seeded, role_users):
    bad = f.bad_case(turn=2, category="internal_term_leak")  # a clean reply mislabelled
    with pytest.raises(RewardDocumentError) as exc:
        rule_example_from_bad_case(bad_case=bad, user=role_users["ml_engineer"])
    assert "rule 'internal_term_leak': example must trigger but no rule fired" in exc.value.messages[0]
    bad.category = "silence_as_agreement"
    with pytest.raises(RewardDocumentError) as exc:
        rule_example_from_bad_case(bad_case=bad, user=role_users["ml_engineer"])
    assert exc.value.messages == [NO_RULE_FOR_CATEGORY.format(category="silence_as_agreement")]
    assert RuleSetVersion.objects.count() == 1


def test_bad_case_pushing_past_an_acceptable_offer_uses_its_history(seeded, role_users):
    dialogue = f.dialogue(messages=[*f.MESSAGES_EN[:4], ("agent", "Thanks! Could you go a bit lower, say 650?", "")])
    bad = f.bad_case(dialogue_row=dialogue, category="pushed_after_acceptable_offer")
    row = rule_example_from_bad_case(bad_case=bad, user=role_users["ml_engineer"])
    assert rule(row.document, "continued_after_acceptable_offer")["examples"]["trigger"][-1]["reply"] == bad.model_reply


def test_excellent_reply_becomes_a_clean_example_of_every_rule(seeded, role_users):
    excellent = f.excellent(turn=2)
    row = rule_example_from_excellent_turn(excellent=excellent, user=role_users["ml_engineer"])
    reply = f.MESSAGES_EN[2][1]
    assert all(r["examples"]["clean"][-1]["reply"] == reply for r in row.document["rules"])
    bad_turn = f.excellent(turn=4)  # leaks the target price: the rules refuse it as "excellent"
    with pytest.raises(RewardDocumentError) as exc:
        rule_example_from_excellent_turn(excellent=bad_turn, user=role_users["ml_engineer"])
    assert any("internal_term_leak" in m and "must not trigger" in m for m in exc.value.messages)
