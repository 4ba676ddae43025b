"""Judge verdicts whose truth the demo world knows by construction (Django- and torch-free).

The generator writes each bad reply for one agent turn so that it shows one bad-case category and
nothing else (``engine.demo.annotations.bad_reply``); the script's own message at that turn is the good
reply. Eight of the fourteen categories are what the default rubric's rules describe, so for a reply at
a turn the verdict on every rule the stage asks about is known:

==============================  =======================================================
category                        rubric rules hit
==============================  =======================================================
over_promise, hallucination     ``over_promise`` (guarantees, invented facts)
silence_as_agreement            ``silence_as_agreement``
repeated_confirmation           ``repeated_confirmation``
wrong_stage, ticket_ignored     ``sop_stage_violation`` (price before the greeting, a ticket skipped)
pushed_after_acceptable_offer   ``sop_stage_violation`` (chasing at the closing stage)
rigid_script                    ``no_emotional_value`` and ``sop_stage_violation`` (the objection is ignored)
==============================  =======================================================

The other six (internal terms, price confusion, mixed language, length, reasoning leaks, tone) are the
rule engine's checks, not the rubric's, and a reply showing them could also read as a rubric hit (a
price in a greeting), so they are left out. Over-promises and hallucinations are written at request and
chase turns only, where the hotel voiced no concern (at an objection the reply would also ignore it).

The bonus ``excellent_persuasion`` is known for the scripted replies that acknowledge the hotel and give
a case figure or an allowed benefit with a price (``EXCELLENT_KINDS``: true) and for every bad reply and
every non-persuading turn (false); the remaining persuading templates (a chase, a net-price answer,
parity, peak season) are ambiguous: their target is false and :data:`Example.unknown` keeps them out of
the figures.

Items are what the trainer sends the judge (``engine.rewards.reward``): the case as ``task``, the
dialogue before the turn through ``history_from_chat`` (no stages), the reply and the turn's SOP stage.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.demo.annotations import bad_reply, categories_for
from engine.demo.cases import hotel_pool
from engine.demo.sop import default_sop
from engine.demo.world import make_scripted_dialogue
from engine.prompting import history_from_chat, turn_prompt
from engine.rewards.rubric import Rubric, default_rubric

CATEGORY_RULES: dict[str, tuple[str, ...]] = {
    "over_promise": ("over_promise",),
    "hallucination": ("over_promise",),
    "silence_as_agreement": ("silence_as_agreement",),
    "repeated_confirmation": ("repeated_confirmation",),
    "wrong_stage": ("sop_stage_violation",),
    "ticket_ignored": ("sop_stage_violation",),
    "pushed_after_acceptable_offer": ("sop_stage_violation",),
    "rigid_script": ("no_emotional_value", "sop_stage_violation"),
}
# Categories whose replies are written only where the hotel voiced no concern (see the module doc).
_CALM_TURNS = {"over_promise": ("request", "chase"), "hallucination": ("request", "chase")}
BONUS_RULE = "excellent_persuasion"
EXCELLENT_KINDS = frozenset({"persuade", "cost", "cheapest", "owner", "what_do_we_get"})
AMBIGUOUS_KINDS = frozenset({"chase", "net_floor", "parity", "peak"})
# The three splits are ranges of dialogue indices of one world, so they never share a dialogue: training
# from 0, validation (what the build selects its adapter on) and held-out (what tests and benchmarks read).
VALIDATION_START = 50_000
HELDOUT_START = 100_000


@dataclass(frozen=True)
class Example:
    """One judge call and its true verdict: ``hits`` among the rules the stage asks about."""

    dialogue: str  # external id: the split is by dialogue
    task: dict
    history: list[dict]
    reply: str
    stage: str
    rules: tuple[str, ...]  # the rubric rules asked at this stage, in the schema's order
    hits: frozenset[str]
    category: str | None  # the bad-case category shown, None for the script's own reply
    unknown: frozenset[str] = field(default_factory=frozenset)  # rules whose truth is not known here

    def item(self) -> dict:
        """The ``JudgeItem`` fields."""
        return {"task": self.task, "history": self.history, "reply": self.reply, "stage": self.stage}

    def verdict(self) -> dict:
        """The hits-only verdict the schema asks for (``Rubric.schema(evidence_chars=0)``)."""
        return {rule: {"hit": rule in self.hits} for rule in self.rules}

    def verdict_text(self) -> str:
        """The verdict as the server writes it under the schema (xgrammar without whitespace)."""
        return json.dumps(self.verdict(), separators=(",", ":"))


def applicable(category: str, turn, *, n_tickets: int) -> bool:
    if category not in categories_for(turn, n_tickets=n_tickets):
        return False
    return turn.kind in _CALM_TURNS.get(category, (turn.kind,))


def dialogue_examples(
    dialogue_seed: int, index: int, dialogue: dict, script_turns, *, rubric: Rubric, bad_per_turn: int = 1
) -> list[Example]:
    """The good reply and ``bad_per_turn`` bad replies (random applicable categories) at every agent turn."""
    rng = random.Random(f"judge:{dialogue_seed}:{index}")
    case, messages, sop = dialogue["case"], dialogue["messages"], default_sop()
    out = []
    for turn in script_turns:
        history = history_from_chat(turn_prompt(messages=messages, turn=turn.turn, case=case, sop=sop))
        rules = tuple(r.id for r in rubric.rules_for(turn.stage))
        good = messages[turn.turn]["content"]
        bonus = turn.kind in EXCELLENT_KINDS
        unknown = frozenset({BONUS_RULE} & set(rules)) if turn.kind in AMBIGUOUS_KINDS else frozenset()
        replies = [(good, None, frozenset({BONUS_RULE} & set(rules)) if bonus else frozenset())]
        options = [c for c in CATEGORY_RULES if applicable(c, turn, n_tickets=len(case["tickets"]))]
        for category in rng.sample(options, k=min(bad_per_turn, len(options))):
            reply = bad_reply(rng=rng, category=category, turn=turn, case=case, good=good)
            replies.append((reply, category, frozenset(CATEGORY_RULES[category]) & set(rules)))
        for reply, category, hits in replies:
            out.append(
                Example(
                    dialogue=dialogue["external_id"],
                    task=case,
                    history=history,
                    reply=reply,
                    stage=turn.stage,
                    rules=rules,
                    hits=hits,
                    category=category,
                    unknown=unknown if category is None else frozenset(),
                )
            )
    return out


def examples(
    *,
    seed: int = 0,
    n_dialogues: int = 120,
    heldout: bool = False,
    validation: bool = False,
    rubric: Rubric | None = None,
    bad_per_turn: int = 1,
) -> list[Example]:
    """The examples of ``n_dialogues`` dialogues: the training ones, the ``validation`` ones (the build's
    model selection) or the ``heldout`` ones (what measurements read); no dialogue is in two splits."""
    if heldout and validation:
        raise ValueError("a split is validation or held-out, not both")
    rubric = rubric or default_rubric()
    start = HELDOUT_START if heldout else VALIDATION_START if validation else 0
    out: list[Example] = []
    for index, dialogue, turns in scripted_dialogues(seed=seed, start=start, n=n_dialogues):
        out += dialogue_examples(seed, index, dialogue, turns, rubric=rubric, bad_per_turn=bad_per_turn)
    return out


def scripted_dialogues(*, seed: int, start: int, n: int) -> Iterator[tuple[int, dict, list]]:
    """Dialogues ``start .. start+n`` of the demo-sized world ``seed`` with their agent turns."""
    hotels = hotel_pool(seed=seed, size=8)
    for index in range(start, start + n):
        dialogue, script = make_scripted_dialogue(seed=seed, index=index, hotels=hotels)
        yield index, dialogue, script.agent_turns


def rule_figures(examples_: list[Example], predicted: list[dict[str, bool]]) -> dict:
    """Per-rule precision, recall and balanced accuracy of ``predicted`` verdicts against the truth, over
    the examples whose truth on the rule is known, and their macro means over the rules with positives.

    >>> ex = Example("d", {}, [], "r", "greeting", ("a",), frozenset({"a"}), "x")
    >>> rule_figures([ex], [{"a": True}])["rules"]["a"]["recall"]
    1.0
    """
    counts: dict[str, dict[str, int]] = {}
    for example, verdict in zip(examples_, predicted, strict=True):
        for rule in example.rules:
            if rule in example.unknown:
                continue
            c = counts.setdefault(rule, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
            truth, said = rule in example.hits, bool(verdict.get(rule))
            c[("t" if truth == said else "f") + ("p" if said else "n")] += 1
    rules = {}
    for rule, c in sorted(counts.items()):
        positives, negatives = c["tp"] + c["fn"], c["tn"] + c["fp"]
        said = c["tp"] + c["fp"]
        recall = c["tp"] / positives if positives else None
        specificity = c["tn"] / negatives if negatives else None
        rules[rule] = {
            **c,
            "precision": round(c["tp"] / said, 4) if said else 0.0,  # nothing flagged: 0, as for "always clean"
            "recall": round(recall, 4) if recall is not None else None,
            "balanced_accuracy": round((recall + specificity) / 2, 4)
            if recall is not None and specificity is not None
            else None,
        }
    scored = [r for r in rules.values() if r["balanced_accuracy"] is not None]
    tp, fp, fn = (sum(r[k] for r in rules.values()) for k in ("tp", "fp", "fn"))
    return {
        "rules": rules,
        "macro_balanced_accuracy": round(sum(r["balanced_accuracy"] for r in scored) / len(scored), 4)
        if scored
        else None,
        "macro_recall": round(sum(r["recall"] for r in scored) / len(scored), 4) if scored else None,
        "micro_f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0,
        "verdicts": len(predicted),
    }


def always_clean(examples_: list[Example]) -> list[dict[str, bool]]:
    """The trivial baseline: no rule ever hit (also the majority answer of every rule here)."""
    return [dict.fromkeys(e.rules, False) for e in examples_]
