"""The RM's default held-out split is by dialogue, not by row."""

import doctest

from engine.demo.datasets import preference_rows
from engine.demo.world import generate_world
from engine.rewards import rm as rm_module
from engine.rewards.rm import _dialogue_key, _split


def test_doctests():
    assert doctest.testmod(rm_module).failed == 0


def test_no_dialogue_has_turns_on_both_sides_of_the_split():
    rows = preference_rows(generate_world(seed=0, n_dialogues=24))
    assert len({_dialogue_key(r) for r in rows}) < len(rows)  # several preference rows per dialogue
    train, held = _split(rows, seed=0)
    assert held and len(train) + len(held) == len(rows)
    assert not {_dialogue_key(r) for r in train} & {_dialogue_key(r) for r in held}
    assert 0.1 <= len(held) / len(rows) <= 0.4
    world = generate_world(seed=0, n_dialogues=24)
    assert len({_dialogue_key(r) for r in rows}) == len(world["dialogues"])  # one key per conversation
