"""The demo world: a project, the default SOP and guideline, users, and generated dialogues.

Deterministic for a seed, and streamable: dialogue ``i`` depends only on ``(seed, i)`` and the hotel
pool, so ``iter_dialogues`` can produce 100k dialogues without holding them.

Quotas are fixed by the index so a 60-dialogue world always shows everything the demo must show:
every fourth dialogue carries a bad case (categories in turn, so 56 dialogues cover all 14), one in
twelve is in Chinese, and pair provenances rotate so all four sources appear.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from engine.demo.annotations import annotate
from engine.demo.cases import hotel_pool, make_case
from engine.demo.dialogues import SCENARIO_WEIGHTS, SCENARIOS, Script, build_script
from engine.demo.sop import DEFAULT_GUIDELINE, DEFAULT_PROJECT, default_sop
from engine.prompting import to_chat
from engine.vocab import BAD_CASE_CATEGORIES, PROVENANCES

DEMO_USERS = (
    ("language", "language_expert"),
    ("bd", "bd_expert"),
    ("reviewer", "reviewer"),
    ("mlengineer", "ml_engineer"),
    ("evaluator", "evaluator"),
    ("admin", "admin"),
)
# Which scenarios can show a category at all (e.g. silence needs a dialogue the hotel left unanswered).
_CATEGORY_SCENARIOS = {
    "silence_as_agreement": ("no_reply",),
    "pushed_after_acceptable_offer": ("chase_to_target", "give_in"),
    "repeated_confirmation": ("chase_to_target", "give_in", "partial"),
    "rigid_script": ("chase_to_target", "partial", "refused"),
    "wrong_stage": SCENARIOS,
    "internal_term_leak": SCENARIOS,
    "tone": SCENARIOS,
    "mixed_language": SCENARIOS,
    "too_long": SCENARIOS,
    "reasoning_leak": SCENARIOS,
}
_NEGOTIATED = ("chase_to_target", "give_in", "partial", "refused")


def _pool_size(n: int) -> int:
    """About eight hotels for a demo; more for benchmark-sized worlds so cases do not repeat too much."""
    return max(8, n // 500)


def _source(rng: random.Random, first_provenance: str) -> str:
    if first_provenance == "production":
        return "production"
    if first_provenance == "sop_path":
        return "curated"  # SOP-path samples are written by BD experts
    return rng.choice(("production", "production", "synthetic"))


def make_dialogue(*, seed: int, index: int, hotels: list[dict]) -> dict:
    """Dialogue ``index`` of the world ``seed``: one line of the import format (docs/import-schema.md)."""
    return make_scripted_dialogue(seed=seed, index=index, hotels=hotels)[0]


def make_scripted_dialogue(*, seed: int, index: int, hotels: list[dict]) -> tuple[dict, Script]:
    """:func:`make_dialogue` and its script (each agent turn's template kind and values: what the demo
    judge's ground truth is built from, ``engine.demo.judge_data``)."""
    rng = random.Random(f"{seed}:{index}")
    category = BAD_CASE_CATEGORIES[(index // 4) % len(BAD_CASE_CATEGORIES)] if index % 4 == 1 else None
    language = "zh" if index % 12 == 7 else "en"
    allowed = _CATEGORY_SCENARIOS.get(category, _NEGOTIATED) if category else SCENARIOS
    weights = [w for s, w in zip(SCENARIOS, SCENARIO_WEIGHTS, strict=True) if s in allowed]
    scenario = rng.choices([s for s in SCENARIOS if s in allowed], weights=weights)[0]
    n_tickets = rng.choices((1, 2, 3), weights=(0.55, 0.3, 0.15))[0]
    if category == "ticket_ignored":
        n_tickets = max(n_tickets, 2)
    hotel = rng.choice(hotels)
    case = make_case(rng=rng, hotel=hotel, n_tickets=n_tickets, language=language)
    city = hotel["city_zh"] if language == "zh" else hotel["city"]
    script = build_script(rng=rng, case=case, scenario=scenario, city_display=city)
    provenances = [PROVENANCES[(index + j) % len(PROVENANCES)] for j in range(rng.choice((1, 2)))]
    notes = annotate(rng=rng, script=script, case=case, provenances=provenances, bad_case_category=category)
    dialogue = {
        "external_id": f"demo-{seed}-{index:06d}",
        "source": _source(rng, provenances[0]),
        "case": case,
        "messages": script.messages,
        "outcome": script.outcome,
        **notes,
    }
    return dialogue, script


def iter_dialogues(*, seed: int = 0, n: int = 60) -> Iterator[dict]:
    """Stream ``n`` dialogues of the world ``seed`` (import-format dicts)."""
    hotels = hotel_pool(seed=seed, size=_pool_size(n))
    for index in range(n):
        yield make_dialogue(seed=seed, index=index, hotels=hotels)


def generate_world(*, seed: int = 0, n_dialogues: int = 60) -> dict:
    """The whole demo world in memory (for ``seed_demo`` and tests; stream big worlds instead)."""
    hotels = hotel_pool(seed=seed, size=_pool_size(n_dialogues))
    return {
        "project": dict(DEFAULT_PROJECT),
        "sop": default_sop(),
        "guidelines": [dict(DEFAULT_GUIDELINE)],
        "users": [{"username": name, "role": role} for name, role in DEMO_USERS],
        "hotels": [{"name": h["name"], "type": h["type"], "city": h["city"]} for h in hotels],
        "dialogues": list(iter_dialogues(seed=seed, n=n_dialogues)),
    }


def corpus_chats(*, seed: int = 0, n: int = 1000) -> Iterator[list[dict]]:
    """Chat-formatted dialogues (system message + turns) for pre-training the tiny base model."""
    sop = default_sop()
    for dialogue in iter_dialogues(seed=seed, n=n):
        yield to_chat(dialogue["messages"], case=dialogue["case"], sop=sop)


def corpus_texts(*, seed: int = 0, n: int = 1000) -> Iterator[str]:
    """The same dialogues as plain ``role: content`` transcripts (for a tokenizer's training text)."""
    for chat in corpus_chats(seed=seed, n=n):
        yield "\n".join(f"{m['role']}: {m['content']}" for m in chat)
