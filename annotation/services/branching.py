"""Branch at a turn: an alternative reply at turn k whose prompt is exactly the dialogue's first k messages.

Written alternatives become human candidates and, optionally, a pairwise item against the reply that was
there. Generating alternatives from a deployed model belongs here too once the deploy app serves models:
it would call the serving client with ``messages[:k]`` and store ``Candidate(source=model, model_version=…)``
through this same function (not built yet — the branch page says so).
"""

from django.db import transaction

from annotation.models import AnnotationItem, AnnotationQueue, Candidate, Dialogue, Message, TaskKind
from annotation.services.audit import audit_record, audit_snapshot
from annotation.services.errors import AnnotationError
from engine.task import message_errors

BAD_TURN = "Branch at an agent turn of this dialogue (or right after its last hotel message)."
EMPTY_TEXT = "Write the alternative reply."
NOT_PAIRWISE = "Alternatives can only be added to a pairwise queue of the same project."


def branch_turn_valid(*, dialogue: Dialogue, turn: int) -> bool:
    """Turn k is a fork point when message k is the agent's, or k is the end and the hotel spoke last."""
    roles = dict(Message.objects.filter(dialogue=dialogue).values_list("index", "role"))
    if turn in roles:
        return roles[turn] == Message.Role.AGENT
    return turn == len(roles) and roles.get(turn - 1) == Message.Role.HOTEL


def _reply_there(*, dialogue: Dialogue, turn: int, exclude: int) -> Candidate | None:
    existing = Candidate.objects.filter(dialogue=dialogue, turn=turn).exclude(pk=exclude).order_by("id").first()
    if existing is not None:
        return existing
    message = Message.objects.filter(dialogue=dialogue, index=turn, role=Message.Role.AGENT).first()
    if message is None:
        return None
    # The logged reply becomes a candidate so it can be compared (it is what the deployed agent said).
    return Candidate.objects.create(
        dialogue=dialogue, turn=turn, text=message.content, source=Candidate.Source.MODEL, key=f"message:{turn}"
    )


@transaction.atomic
def branch_create(
    *, dialogue: Dialogue, turn: int, text: str, author, queue: AnnotationQueue | None = None
) -> Candidate:
    text = (text or "").strip()
    if not text:
        raise AnnotationError(EMPTY_TEXT)
    errors = message_errors({"role": "agent", "content": text})
    if errors:
        raise AnnotationError("; ".join(errors))
    if not branch_turn_valid(dialogue=dialogue, turn=turn):
        raise AnnotationError(BAD_TURN)
    if queue is not None and (queue.kind != TaskKind.PAIRWISE or queue.project_id != dialogue.project_id):
        raise AnnotationError(NOT_PAIRWISE)
    candidate = Candidate.objects.create(
        dialogue=dialogue,
        turn=turn,
        text=text,
        source=Candidate.Source.HUMAN,
        author=author,
    )
    audit_record(actor=author, action="create", instance=candidate, after=audit_snapshot(candidate))
    other = _reply_there(dialogue=dialogue, turn=turn, exclude=candidate.pk) if queue else None
    if queue is not None and other is not None:
        item = AnnotationItem.objects.create(
            queue=queue,
            dialogue=dialogue,
            turn=turn,
            candidate_a=other,
            candidate_b=candidate,
            overlap=queue.target_overlap,
        )
        audit_record(actor=author, action="create", instance=item, after=audit_snapshot(item))
    return candidate
