"""The text the tiny model learns from: chat-formatted demo dialogues.

The demo world (``engine.demo.corpus_chats``) is the source. Until it is importable, a small
placeholder generator below writes the same shape (system case summary, hotel lines, agent replies)
so that the model, the trainers and the tests do not wait for it.
"""

from __future__ import annotations

import random

TRAIN_CHATS = 1200
HELDOUT_SEED_OFFSET = 10_007  # held-out chats come from another seed of the same generator


def _demo_corpus():
    try:
        from engine.demo import corpus_chats
    except ImportError:
        return None
    return corpus_chats


def source_name() -> str:
    return "engine.demo.corpus_chats" if _demo_corpus() else "placeholder"


def training_chats(*, seed: int, n: int = TRAIN_CHATS) -> list[list[dict]]:
    """``n`` chats, each a list of ``{"role": "system"|"user"|"assistant", "content"}`` messages."""
    source = _demo_corpus()
    chats = source(seed=seed, n=n) if source else placeholder_chats(seed=seed, n=n)
    return [[{"role": m["role"], "content": m["content"]} for m in chat] for chat in chats]


def heldout_chats(*, seed: int, n: int = 40) -> list[list[dict]]:
    return training_chats(seed=seed + HELDOUT_SEED_OFFSET, n=n)


def tokenizer_texts(chats: list[list[dict]]) -> list[str]:
    return [message["content"] for chat in chats for message in chat]


# ---------------------------------------------------------------------------------------------------
# placeholder generator (used only while engine.demo has no corpus_chats)
# ---------------------------------------------------------------------------------------------------
_HOTELS = ("Harbour View Hotel", "Jade Garden Resort", "Lotus Express", "Pine Courtyard Inn", "Maple Residences")
_CITIES = ("Shanghai", "Hangzhou", "Sanya", "Chengdu", "Xiamen")
_ROOMS = ("Deluxe King", "Standard Twin", "Superior Double", "Family Suite", "Sea View King")
_RIVALS = ("Riverside Inn", "Crescent Plaza", "Golden Gate Hotel", "Orchid Suites")
_BENEFITS = ("homepage exposure for 7 days", "a slot in the weekend deals channel", "a 'good value' badge")
_OBJECTIONS = (
    "we are already cheap",
    "costs went up this year",
    "ask my boss tomorrow",
    "peak season, cannot lower",
    "what do we get?",
)


def _round5(value: float) -> int:
    return int(round(value / 5.0) * 5)


def placeholder_chats(*, seed: int, n: int) -> list[list[dict]]:
    rng = random.Random(seed)
    return [_placeholder_chat(rng) for _ in range(n)]


def _placeholder_chat(rng: random.Random) -> list[dict]:
    hotel, city, room = rng.choice(_HOTELS), rng.choice(_CITIES), rng.choice(_ROOMS)
    current = _round5(rng.uniform(300, 1500))
    target = _round5(current * rng.uniform(0.82, 0.93))
    rival, rival_price = rng.choice(_RIVALS), _round5(target * rng.uniform(0.97, 1.03))
    benefit = rng.choice(_BENEFITS)
    offer = _round5((current + target) / 2)
    system = (
        f"You are a BD associate of the travel platform. Hotel: {hotel} ({city}). "
        f"Room: {room}, current price {current} CNY, suggested price {target} CNY. "
        f"Competitor: {rival} at {rival_price} CNY. Allowed benefit: {benefit}."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": rng.choice(("hello?", "hi, who is this", "yes?"))},
        {
            "role": "assistant",
            "content": f"Hello, this is the BD team of the travel platform. Do you have a minute to talk "
            f"about the {room} at {hotel}?",
        },
        {"role": "user", "content": rng.choice(_OBJECTIONS)},
        {
            "role": "assistant",
            "content": f"I understand. {rival} nearby sells a similar room at {rival_price} CNY. "
            f"Would {target} CNY for the {room} work? We can add {benefit}.",
        },
        {"role": "user", "content": f"ok {offer} max"},
        {
            "role": "assistant",
            "content": f"Thank you for meeting us halfway. Could we try {_round5((offer + target) / 2)} CNY "
            f"for the {room}? Travellers in {city} compare prices closely.",
        },
    ]
