"""The demo world generator: deterministic, schema-valid, consistent prices, every quota met."""

import doctest
import re
from collections import Counter

import pytest

import engine.demo.cases
import engine.demo.phrases
import engine.demo.sop
from engine.demo import clause_codes, corpus_chats, corpus_texts, generate_world, iter_dialogues
from engine.demo.datasets import kto_rows, preference_rows, prompt_rows, sft_rows
from engine.demo.vocab import REASON_CODES
from engine.task import message_errors, task_errors
from engine.vocab import (
    BAD_CASE_CATEGORIES,
    CANDIDATE_SOURCES,
    DIALOGUE_SOURCES,
    PRICE_REDUCED,
    PROVENANCES,
    SEVERITIES,
    STRENGTHS,
)
from engine.vocab import SOP_STAGES as STAGES


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=0, n_dialogues=60)


def test_same_seed_same_world_other_seed_other_world():
    assert generate_world(seed=3, n_dialogues=20) == generate_world(seed=3, n_dialogues=20)
    assert generate_world(seed=4, n_dialogues=20)["dialogues"] != generate_world(seed=3, n_dialogues=20)["dialogues"]


def test_streaming_yields_the_same_dialogues_as_the_world(world):
    assert list(iter_dialogues(seed=0, n=60)) == world["dialogues"]


def test_every_case_and_message_is_valid():
    for dialogue in iter_dialogues(seed=1, n=400):
        assert task_errors(dialogue["case"]) == [], dialogue["external_id"]
        assert dialogue["messages"], dialogue["external_id"]
        for message in dialogue["messages"]:
            assert message_errors(message) == []
            assert message["stage"] in (*STAGES, None)


def test_prices_are_consistent():
    for dialogue in iter_dialogues(seed=2, n=400):
        tickets = dialogue["case"]["tickets"]
        for t in tickets:
            assert t["net_price"] < t["current_price"]
            assert t["target_price"] < t["current_price"]
            assert any(abs(c["price"] - t["target_price"]) <= 0.05 * t["target_price"] for c in t["competitors"])
        low = min(t["target_price"] for t in tickets) - 10
        high = max(t["current_price"] for t in tickets)
        for message in dialogue["messages"]:
            if message["role"] == "hotel":  # every figure a hotel offers lies between target-ish and current
                for figure in map(int, re.findall(r"\d{3,}", message["content"])):
                    assert low <= figure < high, (dialogue["external_id"], message["content"])


def test_the_demo_quotas(world):
    dialogues = world["dialogues"]
    assert len(dialogues) == 60
    assert len(world["hotels"]) == 8 and len({h["type"] for h in world["hotels"]}) == 5
    assert len({d["case"]["hotel"]["name"] for d in dialogues}) >= 6
    assert Counter(d["case"]["language"] for d in dialogues)["zh"] == 5
    assert {d["source"] for d in dialogues} == set(DIALOGUE_SOURCES)
    pairs = [p for d in dialogues for p in d["pairs"]]
    assert {p["provenance"] for p in pairs} == set(PROVENANCES)
    assert len(pairs) >= 60
    bad_cases = [b for d in dialogues for b in d["bad_cases"]]
    assert len(bad_cases) == 15
    assert {b["category"] for b in bad_cases} == set(BAD_CASE_CATEGORIES)
    assert sum(len(d["excellent_turns"]) for d in dialogues) >= 5
    outcomes = Counter(d["outcome"]["price_reduced"] for d in dialogues)
    assert set(outcomes) == set(PRICE_REDUCED)
    assert any(len(d["case"]["tickets"]) == 3 for d in dialogues)
    assert {m["stage"] for d in dialogues for m in d["messages"]} - {None} == set(STAGES)


def test_annotations_point_at_agent_turns_and_known_vocabulary(world):
    codes = clause_codes(world["sop"])
    for d in world["dialogues"]:
        messages = d["messages"]
        candidates = {c["key"]: c for c in d["candidates"]}
        assert len(candidates) == len(d["candidates"])
        for c in d["candidates"]:
            assert messages[c["turn"]]["role"] == "agent" and c["source"] in CANDIDATE_SOURCES
            assert (c["model"] is None) == (c["source"] == "human")
        for p in d["pairs"]:
            chosen, rejected = candidates[p["chosen"]], candidates[p["rejected"]]
            assert chosen["turn"] == rejected["turn"] == p["turn"] and chosen["text"] != rejected["text"]
            assert p["strength"] in STRENGTHS and set(p["reason_codes"]) <= set(REASON_CODES)
            assert (p["annotator"] is None) == (p["provenance"] == "production")
        for b in d["bad_cases"]:
            assert messages[b["turn"]]["role"] == "agent"
            assert b["clause"] in codes and b["severity"] in SEVERITIES and b["model_reply"] != b["gold_reply"]
        for turn in d["excellent_turns"]:
            assert messages[turn]["role"] == "agent"


def test_sop_clause_codes_are_unique(world):
    clauses = [c["code"] for s in world["sop"]["stages"] for c in s["clauses"]]
    assert len(clauses) == len(set(clauses))
    assert [s["key"] for s in sorted(world["sop"]["stages"], key=lambda s: s["order"])] == list(STAGES)


def test_chinese_dialogues_are_written_in_chinese(world):
    for d in world["dialogues"]:
        if d["case"]["language"] == "zh":
            assert all(re.search(r"[\u4e00-\u9fff]", m["content"]) for m in d["messages"])


def test_corpus_chats_alternate_after_the_system_message():
    chats = list(corpus_chats(seed=5, n=50))
    assert len(chats) == 50
    for chat in chats:
        assert chat[0]["role"] == "system" and chat[1]["role"] == "assistant"
        roles = [m["role"] for m in chat[1:]]
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))
    assert all(text.startswith("system: ") for text in corpus_texts(seed=5, n=3))


def test_rows_load_as_datasets(world):
    datasets = pytest.importorskip("datasets")
    builders = {
        "preference": preference_rows(world),
        "preference-implicit": preference_rows(world, implicit=True),
        "kto": kto_rows(world),
        "sft": sft_rows(world),
        "prompts": prompt_rows(world),
    }
    for kind, rows in builders.items():
        assert rows, kind
        ds = datasets.Dataset.from_list(rows)
        assert len(ds) == len(rows)
    kto = builders["kto"]
    assert {r["label"] for r in kto} == {True, False}
    assert len(builders["prompts"]) == sum(m["role"] == "agent" for d in world["dialogues"] for m in d["messages"])


@pytest.mark.parametrize("module", [engine.demo.cases, engine.demo.phrases, engine.demo.sop])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_an_rm_can_be_left_blind_to_the_preferences_a_rule_checks(world):
    """``preference_rows(exclude_reasons=...)`` drops exactly the pairs with those reason codes: the
    benchmark's blind RM (``--rm-blind rules``) never sees a pair about a leak, a wrong price, the wrong
    language or length, and still sees every other pair."""
    from engine.train.compare import RULE_REASONS

    assert set(RULE_REASONS) <= set(REASON_CODES)
    pairs = [p for d in world["dialogues"] for p in d["pairs"]]
    blind = preference_rows(world, exclude_reasons=RULE_REASONS)
    kept = [p for p in pairs if not set(p["reason_codes"]) & set(RULE_REASONS)]
    assert 0 < len(blind) == len(kept) < len(pairs)
    assert preference_rows(world, exclude_reasons=()) == preference_rows(world)

    def rejected(rows):
        return [m["content"] for r in rows for m in r["rejected"]]

    assert any("<think>" in text for text in rejected(preference_rows(world)))  # a reasoning leak
    assert not any("<think>" in text for text in rejected(blind))
