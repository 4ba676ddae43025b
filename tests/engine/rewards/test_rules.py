"""Rule functions (RF): precision and recall on hand-written replies, the rule-set document, examples."""

import copy
import doctest
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rewards import rules
from engine.rewards.rules import (
    EXAMPLE_TASKS,
    RULE_IDS,
    RuleSet,
    RuleSetError,
    check,
    default_rule_set,
    score,
)
from engine.rewards.rules import terms as rules_terms
from engine.rewards.rules import text as rules_text
from tests.engine.rewards.cases import CLEAN, DIRTY

ISSUE_RULE_IDS = (
    "internal_term_leak",
    "system_leak",
    "reasoning_leak",
    "format",
    "mixed_language",
    "too_long",
    "forbidden_word",
    "repetition",
    "price_mismatch",
    "continued_after_acceptable_offer",
    "judge_addressed",
)


def test_default_rule_ids_are_exactly_the_issues():
    assert RULE_IDS == ISSUE_RULE_IDS


@pytest.mark.parametrize(("reply", "task", "history"), CLEAN, ids=[c[0][:40] for c in CLEAN])
def test_clean_replies_raise_no_violation(reply, task, history):
    assert check(reply, task=task, history=history) == []


@pytest.mark.parametrize(("rule", "reply", "task", "history"), DIRTY, ids=[f"{d[0]}:{d[1][:30]}" for d in DIRTY])
def test_dirty_replies_raise_their_rule(rule, reply, task, history):
    violations = check(reply, task=task, history=history)
    assert rule in [v.rule for v in violations]
    for v in violations:
        assert v.points < 0
        assert reply[v.span[0] : v.span[1]] == v.evidence


def test_precision_and_recall_per_rule_and_language():
    """Both languages are covered for every rule, and the figures are perfect on this hand-written set."""
    assert sum(1 for _, task, _ in CLEAN if task["language"] == "en") >= 8
    assert sum(1 for _, task, _ in CLEAN if task["language"] == "zh") >= 8
    for rule in ISSUE_RULE_IDS:
        languages = {task["language"] for r, _, task, _ in DIRTY if r == rule}
        assert languages == {"en", "zh"}, rule
    false_alarms = sum(len(check(r, task=t, history=h)) for r, t, h in CLEAN)
    misses = [
        (rule, reply) for rule, reply, t, h in DIRTY if rule not in {v.rule for v in check(reply, task=t, history=h)}
    ]
    assert false_alarms == 0 and misses == []


def test_price_mismatch_evidence_is_the_wrong_number():
    (v,) = [
        v for v in check("Your current price is 820, sadly.", task=EXAMPLE_TASKS["en"]) if v.rule == "price_mismatch"
    ]
    assert v.evidence == "820"


def test_a_price_the_hotel_itself_gave_may_be_quoted_back():
    history = [{"role": "hotel", "content": "we changed it, now we sell at 760"}]
    assert (
        check(
            "Thanks! Your current price of 760 is still above 699 at Riverside Inn.",
            task=EXAMPLE_TASKS["en"],
            history=history,
        )
        == []
    )


def test_counter_above_target_is_not_an_acceptable_offer():
    history = [{"role": "hotel", "content": "690 no way. 740 is the best I can do"}]
    assert check("Could you go a bit lower, say 710?", task=EXAMPLE_TASKS["en"], history=history) == []


def test_score_sums_points_and_is_zero_when_clean():
    task = EXAMPLE_TASKS["en"]
    assert score("Would 690 work for the Deluxe King?", task=task) == 0.0
    reply = "As an AI, our target price is 690."
    assert score(reply, task=task) == sum(v.points for v in check(reply, task=task)) == -70.0


def test_document_round_trips_through_json():
    doc = default_rule_set().to_dict()
    again = RuleSet.from_dict(json.loads(json.dumps(doc))).to_dict()
    assert again == doc and doc["version"]


def test_every_rule_is_configurable_points_params_and_enabled():
    doc = default_rule_set().to_dict()
    doc["version"] = "2"
    by_id = {r["id"]: r for r in doc["rules"]}
    by_id["internal_term_leak"]["points"] = -5
    by_id["forbidden_word"]["params"]["terms"].append("cheapskate")
    by_id["too_long"]["params"]["max_chars"]["en"] = 10
    by_id["format"]["enabled"] = False
    edited = RuleSet.from_dict(doc)
    task = EXAMPLE_TASKS["en"]
    hits = {v.rule: v.points for v in check("Our target: no cheapskate deals. Agent: hi", task=task, rules=edited)}
    assert hits == {"internal_term_leak": -5.0, "forbidden_word": -20.0, "too_long": -10.0}
    assert check("Hi there", task=task, rules=doc) == []  # a plain dict document works as well


def test_team_can_add_its_own_pattern_rule():
    doc = default_rule_set().to_dict()
    doc["rules"].append(
        {
            "id": "no_weekend_promise",
            "kind": "pattern",
            "points": -12,
            "params": {"patterns": [r"every weekend (?:sold out|full)"], "terms": ["周末必满房"]},
            "examples": {
                "trigger": [{"reply": "You'll be full every weekend sold out!"}],
                "clean": [{"reply": "Weekends are busy in Shanghai."}],
            },
        }
    )
    rule_set = RuleSet.from_dict(doc)
    assert rule_set.run_examples() == []
    assert [v.rule for v in check("您家周末必满房", task=EXAMPLE_TASKS["zh"], rules=rule_set)] == ["no_weekend_promise"]


def _with_param(rule_id, key, value):
    doc = default_rule_set().to_dict()
    next(r for r in doc["rules"] if r["id"] == rule_id)["params"][key] = value
    return doc


def test_bad_regex_names_the_rule_and_the_pattern():
    rule_set = RuleSet.from_dict(_with_param("format", "patterns", ["(unclosed"]))
    with pytest.raises(RuleSetError) as err:
        rule_set.validate()
    assert err.value.rule == "format"
    assert "'format'" in str(err.value) and "(unclosed" in str(err.value)


def test_upper_case_regex_is_rejected_with_the_fix():
    with pytest.raises(RuleSetError, match="lower case"):
        RuleSet.from_dict(_with_param("format", "patterns", ["^Agent:"])).validate()
    RuleSet.from_dict(_with_param("format", "patterns", [r"^agent:\S"])).validate()  # escapes are fine


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d["rules"].append(copy.deepcopy(d["rules"][0])), "duplicate"),
        (lambda d: d["rules"][0].update(points="a lot"), "points"),
        (lambda d: d["rules"][0].update(points=5), "<= 0"),
        (lambda d: d["rules"][0].update(kind="nonsense"), "unknown kind"),
        (lambda d: d["rules"][0]["params"].update(terms="ticket"), "list of strings"),
        (lambda d: d["rules"][5]["params"].update(max_chars=7), "max_chars"),
    ],
)
def test_invalid_documents_raise_clear_errors(mutate, message):
    doc = default_rule_set().to_dict()
    mutate(doc)
    with pytest.raises(RuleSetError, match=message):
        RuleSet.from_dict(doc).validate()


def test_default_examples_pass_and_a_wrong_example_is_reported():
    assert default_rule_set().run_examples() == []
    doc = default_rule_set().to_dict()
    doc["rules"][0]["examples"]["clean"].append({"reply": "Sorry, that ticket is closed."})
    doc["rules"][0]["examples"]["trigger"].append({"reply": "Hello!", "language": "zh"})
    failures = RuleSet.from_dict(doc).run_examples()
    assert [(f.rule, f.expected) for f in failures] == [("internal_term_leak", True), ("internal_term_leak", False)]
    assert "must trigger" in str(failures[0])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["en", "zh"]))
def test_any_text_checks_without_error_and_spans_are_exact(reply, language):
    history = [{"role": "agent", "content": reply[:50]}, {"role": "hotel", "content": "ok 600"}]
    for v in check(reply, task=EXAMPLE_TASKS[language], history=history):
        assert 0 <= v.span[0] <= v.span[1] <= len(reply)
        assert reply[v.span[0] : v.span[1]] == v.evidence


def test_docstring_examples():
    for module in (rules, rules_text, rules_terms):
        assert doctest.testmod(module).failed == 0
