"""Small factories for the reward-page tests: a demo-like case, dialogue, bad case and excellent turn."""

from __future__ import annotations

import itertools

from annotation.models import (
    SOP,
    BadCase,
    Dialogue,
    ExcellentTurn,
    Message,
    NegotiationCase,
    Project,
    SOPStage,
    Ticket,
)
from engine.demo.sop import default_sop

_ids = itertools.count(1)

MESSAGES_EN = [
    ("agent", "Hello, I'm Lily from the travel platform's hotel team. Do you have a minute?", "greeting"),
    ("hotel", "yes, what is it", ""),
    ("agent", "Riverside Inn is at 699 for a similar room; would 690 work for the Deluxe King?", "state_request"),
    ("hotel", "ok 680 max", ""),
    ("agent", "Thanks! Could you go a bit lower, say 650? The target price is 650.", "continue_chase"),
]


def project() -> Project:
    return Project.objects.get_or_create(name="Rewards test project")[0]


def sop() -> SOP:
    row, created = SOP.objects.get_or_create(project=project(), name="Default SOP", version=1)
    if created:
        for order, stage in enumerate(default_sop()["stages"], start=1):
            SOPStage.objects.create(sop=row, key=stage["key"], name=stage["name"], order=order)
    return row


def case(*, language: str = "en") -> NegotiationCase:
    row = NegotiationCase.objects.create(
        project=project(),
        hotel_name="Harbour View Hotel",
        hotel_type="business",
        city="Shanghai",
        benefits=["homepage exposure for 7 days"],
        language=language,
    )
    Ticket.objects.create(
        case=row,
        position=0,
        code="T1",
        room_type="Deluxe King",
        current_price=780,
        net_price=663,
        target_price=690,
        currency="CNY",
        competitors=[{"name": "Riverside Inn", "price": 699.0}, {"name": "Bund Garden Hotel", "price": 720.0}],
    )
    return row


def dialogue(*, messages=MESSAGES_EN, external_id: str | None = None) -> Dialogue:
    row = Dialogue.objects.create(
        project=project(), case=case(), sop=sop(), external_id=external_id or f"dlg-{next(_ids):04d}"
    )
    for index, (role, content, stage) in enumerate(messages):
        Message.objects.create(dialogue=row, index=index, role=role, content=content, stage=stage)
    return row


def bad_case(*, dialogue_row: Dialogue | None = None, turn: int = 4, category: str = "internal_term_leak") -> BadCase:
    dialogue_row = dialogue_row or dialogue()
    reply = dialogue_row.messages.get(index=turn).content
    return BadCase.objects.create(dialogue=dialogue_row, turn=turn, model_reply=reply, category=category)


def excellent(*, dialogue_row: Dialogue | None = None, turn: int = 2) -> ExcellentTurn:
    return ExcellentTurn.objects.create(dialogue=dialogue_row or dialogue(), turn=turn)
