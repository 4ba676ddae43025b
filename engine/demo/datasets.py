"""TRL dataset rows straight from a generated world, without Django.

The same rows, in the same order of fields, as ``annotation.services.exports`` writes from the
database: both build prompts with ``engine.prompting`` only. Engine tests train on these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.prompting import kto_row, preference_row, prompt_row, sft_row, turn_prompt
from engine.vocab import MARGINS


def _prompt(world: dict, dialogue: dict, turn: int) -> list[dict]:
    return turn_prompt(messages=dialogue["messages"], turn=turn, case=dialogue["case"], sop=world["sop"])


def preference_rows(world: dict, *, implicit: bool = False, exclude_reasons: Iterable[str] = ()) -> list[dict]:
    """One row per preference pair, ``margin`` from the pair's strength. ``exclude_reasons``: leave out
    every pair with one of these reason codes (an RM that never saw those preferences)."""
    excluded = set(exclude_reasons)
    rows = []
    for dialogue in world["dialogues"]:
        texts = {c["key"]: c["text"] for c in dialogue.get("candidates", [])}
        for pair in dialogue.get("pairs", []):
            if excluded.intersection(pair.get("reason_codes", ())):
                continue
            rows.append(
                preference_row(
                    prompt=_prompt(world, dialogue, pair["turn"]),
                    chosen=texts[pair["chosen"]],
                    rejected=texts[pair["rejected"]],
                    margin=MARGINS[pair["strength"]],
                    implicit=implicit,
                )
            )
    return rows


def _excellent(dialogue: dict) -> Iterator[tuple[int, str]]:
    for turn in dialogue.get("excellent_turns", []):
        yield turn, dialogue["messages"][turn]["content"]


def kto_rows(world: dict) -> list[dict]:
    """Excellent agent turns labelled true, bad-case model replies labelled false."""
    rows = []
    for dialogue in world["dialogues"]:
        for turn, text in _excellent(dialogue):
            rows.append(kto_row(prompt=_prompt(world, dialogue, turn), completion=text, label=True))
        for bad in dialogue.get("bad_cases", []):
            rows.append(
                kto_row(prompt=_prompt(world, dialogue, bad["turn"]), completion=bad["model_reply"], label=False)
            )
    return rows


def sft_rows(world: dict) -> list[dict]:
    """Bad-case gold replies and excellent agent turns as prompt-completion rows."""
    rows = []
    for dialogue in world["dialogues"]:
        for bad in dialogue.get("bad_cases", []):
            if bad.get("gold_reply"):
                rows.append(sft_row(prompt=_prompt(world, dialogue, bad["turn"]), completion=bad["gold_reply"]))
        for turn, text in _excellent(dialogue):
            rows.append(sft_row(prompt=_prompt(world, dialogue, turn), completion=text))
    return rows


def prompt_rows(world: dict) -> list[dict]:
    """Every agent turn of every dialogue as a prompt-only row with its case."""
    rows = []
    for dialogue in world["dialogues"]:
        for turn, message in enumerate(dialogue["messages"]):
            if message["role"] == "agent":
                rows.append(
                    prompt_row(prompt=_prompt(world, dialogue, turn), case=dialogue["case"], stage=message.get("stage"))
                )
    return rows
