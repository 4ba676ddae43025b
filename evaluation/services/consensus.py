"""Consensus: a lead (reviewer or ML engineer) records the final label per item and system after seeing
the three raters' judgments side by side. The raw judgments stay; the consensus is a separate row."""

from __future__ import annotations

from django.db import transaction

from engine.vocab import FIX_STATUSES, SKILLS
from evaluation.models import EvalItem, EvalSet, EvalSystem, Judgment
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.text import clean_text

MAX_NOTE_CHARS = 2000
ERR_WITHOUT_JUDGMENTS = "A consensus needs judgments from the raters first; this response has none."
ERR_RATING = "The consensus rating must be a whole number from 1 to 5."
ERR_FIX_STATUS = "Choose a consensus fix status (" + ", ".join(FIX_STATUSES) + ")."
ERR_TURNS = "Excellent turns must be evaluated turns of this dialogue."


def disagreement(judgments: list[Judgment]) -> dict:
    """What the raters disagree on: the rating spread, the distinct statuses, the split skills.

    >>> j = [Judgment(rating=5, skills={"fluency": True}), Judgment(rating=3, skills={"fluency": False})]
    >>> d = disagreement(j); d["rating_spread"], d["skills"], d["any"]
    (2, ['fluency'], True)
    """
    ratings = [j.rating for j in judgments if j.rating is not None]
    statuses = sorted({j.fix_status for j in judgments if j.fix_status})
    split = [s for s in SKILLS if len({(j.skills or {}).get(s) for j in judgments if s in (j.skills or {})}) > 1]
    spread = max(ratings) - min(ratings) if ratings else 0
    return {
        "rating_spread": spread,
        "statuses": statuses,
        "skills": split,
        "any": spread > 0 or len(statuses) > 1 or bool(split),
    }


def _validated(item: EvalItem, *, rating, excellent_turns, skills, fix_status) -> dict:
    excellent = sorted(set(excellent_turns or []))
    if any(t not in item.turns for t in excellent):
        raise ApplicationError(ERR_TURNS)
    fields = {"skills": {s: bool((skills or {}).get(s)) for s in SKILLS}, "excellent_turns": excellent}
    if item.eval_set.kind == EvalSet.Kind.ONLINE:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ApplicationError(ERR_RATING)
        return {**fields, "rating": rating, "fix_status": ""}
    if fix_status not in FIX_STATUSES:
        raise ApplicationError(ERR_FIX_STATUS)
    return {**fields, "rating": None, "fix_status": fix_status, "excellent_turns": []}


@transaction.atomic
def consensus_record(
    *,
    item: EvalItem,
    system: EvalSystem,
    lead,
    rating=None,
    excellent_turns=(),
    skills=None,
    fix_status: str = "",
    note: str = "",
) -> Judgment:
    """Create or replace the consensus for (item, system); refuses when no rater has judged it."""
    if not Judgment.objects.filter(item=item, system=system, consensus=False).exists():
        raise ApplicationError(ERR_WITHOUT_JUDGMENTS)
    fields = _validated(item, rating=rating, excellent_turns=excellent_turns, skills=skills, fix_status=fix_status)
    judgment = Judgment.objects.select_for_update().filter(item=item, system=system, consensus=True).first()
    before = audit_snapshot(judgment) if judgment else None
    if judgment is None:
        judgment = Judgment(item=item, system=system, consensus=True, source=Judgment.Source.CONSENSUS)
    for key, value in fields.items():
        setattr(judgment, key, value)
    note = clean_text(note, field="note", max_len=MAX_NOTE_CHARS)
    judgment.rater, judgment.user, judgment.note = lead.get_username(), lead, note
    judgment.full_clean()
    judgment.save()
    audit_record(actor=lead, action="review", instance=judgment, before=before, after=audit_snapshot(judgment))
    return judgment
