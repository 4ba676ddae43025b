"""The text the tiny model learns from: the demo world's dialogues, chat-formatted with the one
prompt template (``engine.demo.corpus_chats`` through ``engine.prompting.to_chat``), so the model
pre-trains on exactly the prompt shape it is later fine-tuned and served with."""

from __future__ import annotations

TRAIN_CHATS = 1200
HELDOUT_SEED_OFFSET = 10_007  # held-out chats come from another seed of the same generator


def source_name() -> str:
    return "engine.demo.corpus_chats"


def training_chats(*, seed: int, n: int = TRAIN_CHATS) -> list[list[dict]]:
    """``n`` chats, each a list of ``{"role": "system"|"user"|"assistant", "content"}`` messages."""
    from engine.demo import corpus_chats

    chats = corpus_chats(seed=seed, n=n)
    return [[{"role": m["role"], "content": m["content"]} for m in chat] for chat in chats]


def heldout_chats(*, seed: int, n: int = 40) -> list[list[dict]]:
    return training_chats(seed=seed + HELDOUT_SEED_OFFSET, n=n)


def tokenizer_texts(chats: list[list[dict]]) -> list[str]:
    return [message["content"] for chat in chats for message in chat]
