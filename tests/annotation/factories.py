"""Small row factories for the annotation workspace tests (a project, SOP, guideline, cases, dialogues)."""

from decimal import Decimal
from itertools import count

from annotation.models import (
    SOP,
    Candidate,
    Dialogue,
    Guideline,
    Message,
    NegotiationCase,
    Project,
    SOPClause,
    SOPStage,
    Ticket,
)
from annotation.services.queues import dialogues_matching, queue_create

_seq = count()

STAGES = [
    ("opening", "Opening", ["1.1"]),
    ("pricing", "Price discussion", ["2.1", "2.2"]),
    ("closing", "Closing", ["3.1"]),
]
TURNS = [
    ("system", "You negotiate for the platform.", ""),
    ("agent", "Hello, this is Anna from the platform. May I talk about your room prices?", "opening"),
    ("hotel", "Sure, what do you need?", "opening"),
    ("agent", "Your Deluxe King is 780; nearby hotels sell at 699. Could you reach 690?", "pricing"),
    ("hotel", "We can do 720 at most.", "pricing"),
    ("agent", "Thank you, 720 works for this week. I will update the listing.", "closing"),
]


def make_world(*, project_name: str | None = None) -> dict:
    project = Project.objects.create(name=project_name or f"p{next(_seq)}")
    sop = SOP.objects.create(project=project, name="Price SOP", version=1)
    for order, (key, name, codes) in enumerate(STAGES):
        stage = SOPStage.objects.create(sop=sop, key=key, name=name, order=order)
        for code in codes:
            SOPClause.objects.create(stage=stage, sop=sop, code=code, text=f"Clause {code} of stage {name}.")
    guideline = Guideline.objects.create(
        project=project, version=1, title="Pairwise guide", body_markdown="# Judge\n\n**Prefer** SOP-compliant replies."
    )
    return {"project": project, "sop": sop, "guideline": guideline}


def make_dialogue(world: dict, *, hotel_text: str | None = None, candidates: int = 2, n: int | None = None) -> Dialogue:
    project = world["project"]
    case = NegotiationCase.objects.create(
        project=project, hotel_name="Harbour View", hotel_type="business", city="SH", benefits=["homepage exposure"]
    )
    Ticket.objects.create(
        case=case,
        position=0,
        room_type="Deluxe King",
        current_price=Decimal("780"),
        net_price=Decimal("663"),
        target_price=Decimal("690"),
        competitors=[{"name": "Riverside Inn", "price": 699.0}],
    )
    dialogue = Dialogue.objects.create(project=project, case=case, sop=world["sop"], external_id=f"d{next(_seq)}")
    turns = list(TURNS)
    if hotel_text is not None:
        turns[2] = ("hotel", hotel_text, "opening")
    Message.objects.bulk_create(
        Message(dialogue=dialogue, index=i, role=role, content=text, stage=stage)
        for i, (role, text, stage) in enumerate(turns[: n or len(turns)])
    )
    for k in range(candidates):
        Candidate.objects.create(
            dialogue=dialogue,
            turn=3,
            text=f"Candidate {k}: could you reach 690?",
            source=Candidate.Source.MODEL,
            model_name=f"m{k}",
        )
    return dialogue


def make_queue(
    world: dict, *, kind: str = "pairwise", lens: str = "language", dialogues: int = 3, actor=None, **options
):
    for _ in range(dialogues):
        make_dialogue(world)
    return queue_create(
        project=world["project"],
        name=f"q{next(_seq)}",
        kind=kind,
        lens=lens,
        actor=actor,
        dialogues=dialogues_matching(project=world["project"], filters={}),
        guideline=world["guideline"],
        sop=world["sop"],
        **options,
    )


def side_for(assignment, choice: str) -> str:
    """The screen side (A = left) on which ``assignment`` shows canonical candidate ``choice`` ("a"/"b")."""
    wanted = assignment.item.candidate_a_id if choice == "a" else assignment.item.candidate_b_id
    return "A" if assignment.display_order[0] == wanted else "B"
