"""Bad cases: created from a model reply, corrected into a gold reply (the diff is kept, the gold reply
becomes a human candidate), and moved through one guarded lifecycle."""

import difflib

from django.db import transaction

from annotation.models import BadCase, Candidate, Dialogue, SOPClause
from engine.task import MAX_MESSAGE_CHARS
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.text import clean_text

S = BadCase.Status
# open → gold written → reviewed → in a dataset snapshot → verified fixed / regressed (set by evaluation).
TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.GOLD_WRITTEN},
    S.GOLD_WRITTEN: {S.GOLD_WRITTEN, S.REVIEWED},
    S.REVIEWED: {S.GOLD_WRITTEN, S.IN_DATASET},
    S.IN_DATASET: {S.FIXED, S.REGRESSED},
    S.FIXED: {S.REGRESSED},
    S.REGRESSED: {S.FIXED, S.IN_DATASET},
}
BAD_TRANSITION = "A bad case cannot go from {before} to {after}."
GOLD_REQUIRED = "Write the gold reply first."
GOLD_TOO_LONG = f"The gold reply is longer than {MAX_MESSAGE_CHARS} characters."
GOLD_UNCHANGED = "The gold reply is identical to the model's reply: edit it, or close the task as not a bad case."
BAD_CATEGORY = "Pick a category from the list."
BAD_SEVERITY = "Pick a severity: minor, major or severe."
BAD_CLAUSE = "Pick the SOP clause the reply broke (a clause of this dialogue's SOP)."


def gold_diff(*, before: str, after: str) -> str:
    """Unified diff, line by line, from the model's reply to the gold reply."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), "model", "gold", lineterm=""
    )
    return "\n".join(line.rstrip("\n") for line in lines)


def bad_case_clean(*, dialogue: Dialogue, model_reply: str, data: dict) -> dict:
    """Checks the editor's fields; returns them typed (the clause as a row) or raises ApplicationError."""
    gold = (data.get("gold_reply") or "").strip()
    if not gold:
        raise ApplicationError(GOLD_REQUIRED)
    if len(gold) > MAX_MESSAGE_CHARS:
        raise ApplicationError(GOLD_TOO_LONG)
    clean_text(gold, field="gold reply", max_len=MAX_MESSAGE_CHARS)
    if gold == model_reply.strip():
        raise ApplicationError(GOLD_UNCHANGED)
    if data.get("category") not in BadCase.Category.values:
        raise ApplicationError(BAD_CATEGORY)
    if data.get("severity") not in BadCase.Severity.values:
        raise ApplicationError(BAD_SEVERITY)
    clauses = SOPClause.objects.filter(sop_id=dialogue.sop_id) if dialogue.sop_id else SOPClause.objects.none()
    clause = clauses.filter(code=data.get("clause") or "").first()
    if clause is None and clauses.exists():
        raise ApplicationError(BAD_CLAUSE)
    return {"gold_reply": gold, "category": data["category"], "severity": data["severity"], "clause": clause}


@transaction.atomic
def bad_case_create(
    *, dialogue: Dialogue, turn: int, model_reply: str, data: dict, actor, model_version=None
) -> BadCase:
    """A bad case with its gold reply written (status gold_written) and the gold saved as a human candidate."""
    fields = bad_case_clean(dialogue=dialogue, model_reply=model_reply, data=data)
    bad_case = BadCase(
        dialogue=dialogue,
        turn=turn,
        model_reply=model_reply,
        model_version=model_version,
        category=fields["category"],
        severity=fields["severity"],
        clause=fields["clause"],
        gold_reply=fields["gold_reply"],
        gold_diff=gold_diff(before=model_reply, after=fields["gold_reply"]),
        status=S.GOLD_WRITTEN,
        created_by=actor,
    )
    bad_case.full_clean()
    bad_case.save()
    Candidate.objects.create(
        dialogue=dialogue,
        turn=turn,
        text=fields["gold_reply"],
        source=Candidate.Source.HUMAN,
        author=actor,
        key=f"gold:{bad_case.pk}",
    )
    audit_record(actor=actor, action="create", instance=bad_case, after=audit_snapshot(bad_case))
    return bad_case


@transaction.atomic
def bad_case_transition(*, bad_case: BadCase, to: str, actor, fixed_in=None, note: str = "") -> BadCase:
    """The only way a bad case changes status; refuses any move the lifecycle does not allow."""
    bad_case = BadCase.objects.select_for_update().get(pk=bad_case.pk)
    if to not in TRANSITIONS.get(bad_case.status, set()):
        raise ApplicationError(BAD_TRANSITION.format(before=bad_case.status, after=to), status=409)
    if to != S.OPEN and not bad_case.gold_reply:
        raise ApplicationError(GOLD_REQUIRED)
    before = audit_snapshot(bad_case, fields=["status", "fixed_in"])
    bad_case.status = to
    if to == S.FIXED:
        bad_case.fixed_in = fixed_in
    bad_case.save(update_fields=["status", "fixed_in", "updated_at"])
    audit_record(
        actor=actor,
        action="review" if to == S.REVIEWED else "change",
        instance=bad_case,
        before=before,
        after=audit_snapshot(bad_case, fields=["status", "fixed_in"]),
        note=note,
    )
    return bad_case


@transaction.atomic
def bad_case_edit_gold(*, bad_case: BadCase, data: dict, actor) -> BadCase:
    """Rewrite the gold reply (and category/clause/severity); a reviewed case goes back to gold_written."""
    bad_case = BadCase.objects.select_for_update().get(pk=bad_case.pk)
    fields = bad_case_clean(dialogue=bad_case.dialogue, model_reply=bad_case.model_reply, data=data)
    if S.GOLD_WRITTEN not in TRANSITIONS.get(bad_case.status, set()):
        raise ApplicationError(BAD_TRANSITION.format(before=bad_case.status, after=S.GOLD_WRITTEN), status=409)
    before = audit_snapshot(bad_case)
    for name, value in fields.items():
        setattr(bad_case, name, value)
    bad_case.gold_diff = gold_diff(before=bad_case.model_reply, after=bad_case.gold_reply)
    bad_case.status = S.GOLD_WRITTEN
    bad_case.full_clean()
    bad_case.save()
    Candidate.objects.update_or_create(
        dialogue=bad_case.dialogue,
        key=f"gold:{bad_case.pk}",
        defaults={
            "turn": bad_case.turn,
            "text": bad_case.gold_reply,
            "source": Candidate.Source.HUMAN,
            "author": actor,
        },
    )
    audit_record(actor=actor, action="change", instance=bad_case, before=before, after=audit_snapshot(bad_case))
    return bad_case
