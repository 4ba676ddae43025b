"""The demo world: generated negotiation dialogues with annotations (Django-free).

``generate_world`` / ``iter_dialogues`` yield lines of the import format (docs/import-schema.md);
``corpus_chats`` feeds the tiny model's pre-training; ``engine.demo.datasets`` builds TRL rows.
"""

from engine.demo.sop import DEFAULT_SOP, clause_codes, default_sop
from engine.demo.world import corpus_chats, corpus_texts, generate_world, iter_dialogues, make_dialogue

__all__ = [
    "DEFAULT_SOP",
    "clause_codes",
    "corpus_chats",
    "corpus_texts",
    "default_sop",
    "generate_world",
    "iter_dialogues",
    "make_dialogue",
]
