"""The excellent-response library: agent turns flagged as exemplars (KTO positives, judge few-shots)."""

from django.db import IntegrityError, transaction

from annotation.models import Dialogue, ExcellentTurn, Message
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.fields import NOTE_CHARS
from kernel.text import clean_text

NOT_AGENT_TURN = "Only an agent message can be flagged as excellent."
ALREADY_FLAGGED = "This turn is already in the excellent library."


def excellent_flag(*, dialogue: Dialogue, turn: int, user, note: str = "") -> ExcellentTurn:
    note = clean_text(note, field="note", max_len=NOTE_CHARS)  # a longer note is refused, not cut
    if not Message.objects.filter(dialogue=dialogue, index=turn, role=Message.Role.AGENT).exists():
        raise ApplicationError(NOT_AGENT_TURN)
    try:
        with transaction.atomic():
            excellent = ExcellentTurn.objects.create(dialogue=dialogue, turn=turn, flagged_by=user, note=note)
            audit_record(actor=user, action="create", instance=excellent, after=audit_snapshot(excellent))
    except IntegrityError:
        raise ApplicationError(ALREADY_FLAGGED, status=409) from None
    return excellent


@transaction.atomic
def excellent_unflag(*, excellent: ExcellentTurn, user) -> None:
    before = audit_snapshot(excellent)
    object_id = excellent.pk
    excellent.delete()
    audit_record(
        actor=user, action="delete", object_type="annotation.excellentturn", object_id=object_id, before=before
    )
