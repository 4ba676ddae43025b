"""Small factories for evaluation tests: a project with dialogues, eval sets, systems, judgments."""

from __future__ import annotations

import itertools
import json

from annotation.models import BadCase, Dialogue, Message, NegotiationCase, Project, Ticket
from engine.vocab import SKILLS
from evaluation.models import EvalItem, EvalSet, EvalSystem, Judgment, Response
from registry.models import ModelVersion

_seq = itertools.count(1)
ALL_SKILLS = dict.fromkeys(SKILLS, True)


def make_dialogue(*, external_id: str | None = None, turns: int = 4) -> Dialogue:
    project, _ = Project.objects.get_or_create(name="Eval tests")
    case = NegotiationCase.objects.create(project=project, hotel_name="Jade Inn", hotel_type="business", city="Xiamen")
    Ticket.objects.create(
        case=case,
        room_type="Deluxe King",
        current_price=780,
        net_price=650,
        target_price=690,
        competitors=[{"name": "Harbour Hotel", "price": 695}],
    )
    dialogue = Dialogue.objects.create(project=project, case=case, external_id=external_id or f"d{next(_seq)}")
    lines = [
        "Hello, this is Mia from the travel platform.",
        "hmm ok",
        "Would 690 work for the Deluxe King?",
        "we are already cheap",
        "Harbour Hotel is at 695 nearby; 690 would lift your ranking.",
        "ok 700 max",
    ]
    for i in range(turns):
        Message.objects.create(dialogue=dialogue, index=i, role="agent" if i % 2 == 0 else "hotel", content=lines[i])
    return dialogue


def make_set(*, name: str = "online-30", kind: str = "online", n: int = 2, frozen: bool = True) -> EvalSet:
    from django.utils import timezone

    eval_set = EvalSet.objects.create(name=name, kind=kind, frozen_at=timezone.now() if frozen else None)
    for i in range(n):
        dialogue = make_dialogue()
        bad_case = None
        if kind == "bad_case":
            bad_case = BadCase.objects.create(
                dialogue=dialogue,
                turn=2,
                model_reply="Our target price is 690.",
                category="internal_term_leak",
                gold_reply="Would 690 work for the Deluxe King?",
                status="in_dataset",
            )
        EvalItem.objects.create(
            eval_set=eval_set,
            external_id=dialogue.external_id,
            dialogue=dialogue,
            bad_case=bad_case,
            turns=[2] if kind == "bad_case" else [0, 2],
            position=i,
        )
    return eval_set


def make_system(name: str, *, model: bool = True) -> EvalSystem:
    version = (
        ModelVersion.objects.create(name=f"{name}-v1", base_model="/tmp/base", method=name.lower()) if model else None
    )
    return EvalSystem.objects.create(name=name, model_version=version, is_gold=name == "gold")


def add_responses(eval_set: EvalSet, *systems: EvalSystem) -> None:
    for item in eval_set.items.all():
        for system in systems:
            for turn in item.turns:
                Response.objects.create(
                    item=item,
                    system=system,
                    turn=turn,
                    text=f"Would 690 work for the Deluxe King? ({turn}, {next(_seq)})",
                )


def judge(item, system, rater: str, *, consensus: bool = False, **fields) -> Judgment:
    return Judgment.objects.create(item=item, system=system, rater=rater, consensus=consensus, **fields)


def jsonl(rows: list[dict]) -> list[str]:
    return [json.dumps(r) + "\n" for r in rows]
