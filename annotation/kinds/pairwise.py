"""Pairwise preference at a turn: two candidate replies side by side, A / B / Equal / Both bad, a strength
and reason codes.

A decided answer becomes a ``PreferencePair`` at once (provenance from the annotator's lens), so the data
is there before review; ties (equal, both bad) make no pair. A gold decision keeps the pairs that agree
with it, removes the others and adds a reviewer's pair when nobody chose the gold side.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import combinations

from annotation.kinds.base import Hint, ItemRow, Key, TaskKind
from annotation.models import AnnotationItem, Answer, Assignment, Candidate, GoldDecision, PreferencePair
from engine.vocab import LENS_PROVENANCE, REASON_CODE_CHOICES, STRENGTHS
from kernel.audit import audit_event, audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.models import AuditEvent
from kernel.text import clean_text

BAD_SIDE = "Choose A, B, Equal or Both bad."
STRENGTH_REQUIRED = "Choose a strength: 1 slight, 2 clear, 3 strong."
BAD_REASON = "Unknown reason code: {code}."
NOTE_TOO_LONG = "The note is longer than 2000 characters."
FIX_CHOICE = "A fix needs the correct choice: A, B, Equal or Both bad."
IN_SNAPSHOT = "The preference pair this answer made is already in a dataset snapshot, so the answer stays as given."

# The strength keys of the form and the keyboard: 1 slight, 2 clear, 3 strong.
STRENGTH_KEYS = {str(n): strength for n, strength in enumerate(STRENGTHS, start=1)}
# Why the rejected reply is worse; an annotator may pick several (engine.vocab owns the codes).
REASON_CODES = dict(REASON_CODE_CHOICES)
SIDES = {"A": 0, "B": 1}  # screen side → index in the assignment's display order
TIES = {"equal": Answer.Choice.EQUAL, "both_bad": Answer.Choice.BOTH_BAD}
CANDIDATES_PER_TURN = 3  # items compare every pair among the first three candidates at a turn
PAIR_RELATIONS = ["dialogue", "chosen", "rejected", "annotator", "guideline", "sop"]


class Pairwise(TaskKind):
    name = "pairwise"
    label = "Pairwise preference at a turn"
    items_help = "every pair of candidates at a turn (up to three candidates per turn)"
    template = "annotation/kinds/pairwise.html"
    review_template = "annotation/kinds/pairwise_fix.html"
    compares_candidates = True
    keys = (
        Key("a", "check", "side", "A"),
        Key("b", "check", "side", "B"),
        Key("e", "check", "side", "equal"),
        Key("x", "check", "side", "both_bad"),
        *(Key(n, "check", "strength", n) for n in STRENGTH_KEYS),
    )
    hints = (
        Hint(("A", "B"), "prefer"),
        Hint(("E",), "equal"),
        Hint(("X",), "both bad"),
        Hint(("1", "3"), "strength", sep="–"),
    )
    levels = {"choice": "nominal"}

    def items(self, dialogue_ids: list[int], *, stage: str = "") -> Iterator[ItemRow]:
        by_turn: dict[tuple[int, int], list[int]] = {}
        for c in Candidate.objects.filter(dialogue_id__in=dialogue_ids).order_by("dialogue_id", "turn", "id"):
            by_turn.setdefault((c.dialogue_id, c.turn), []).append(c.pk)
        for (dialogue_id, turn), ids in by_turn.items():
            for a, b in combinations(ids[:CANDIDATES_PER_TURN], 2):
                yield dialogue_id, turn, a, b

    def answer(self, *, answer: Answer, assignment: Assignment, data: dict, actor) -> list[AuditEvent]:
        for name, value in _clean(assignment=assignment, data=data).items():
            setattr(answer, name, value)
        pair, created = _pair_for(answer=answer, item=assignment.item)
        answer.preference_pair = pair
        if pair is None or not created:
            return []
        return [audit_event(actor=actor, action="create", instance=pair, after=audit_snapshot(pair))]

    def values(self, answer: Answer) -> dict[str, object]:
        return {"choice": answer.choice}  # canonical (candidate A/B), not the side it was shown on

    def form_values(self, *, answer: Answer, assignment: Assignment) -> dict:
        values = {"note": answer.note, "reasons": list(answer.reason_codes)}
        if answer.choice in (Answer.Choice.A, Answer.Choice.B):
            item = assignment.item
            chosen = item.candidate_a_id if answer.choice == Answer.Choice.A else item.candidate_b_id
            values["side"] = "A" if (assignment.display_order or [None])[0] == chosen else "B"
            values["strength"] = {v: k for k, v in STRENGTH_KEYS.items()}.get(answer.strength, "")
        else:
            values["side"] = {v: k for k, v in TIES.items()}.get(answer.choice, "")
        return values

    def change_refusal(self, answer: Answer) -> str:
        if answer.preference_pair_id and answer.preference_pair.snapshots.exists():
            return IN_SNAPSHOT
        return ""

    def withdraw(self, *, answer: Answer, actor) -> list[AuditEvent]:
        """The pair this answer made goes (audited); a pair that was there before the task was reserved
        (seeded or imported under this annotator's name, which the answer agreed with) stays as it was."""
        pair = answer.preference_pair
        answer.preference_pair = None
        if pair is None or pair.created_at < answer.assignment.reserved_at:
            return []
        if pair.answers.exclude(pk=answer.pk).exists():
            return []
        event = audit_event(actor=actor, action="delete", instance=pair, before=audit_snapshot(pair))
        Answer.objects.filter(pk=answer.pk).update(preference_pair=None)
        pair.delete()
        return [event]

    def majority(self, answers: Iterable[Answer]) -> tuple[str, dict]:
        return Counter(a.choice for a in answers).most_common(1)[0][0], {}

    def clean_fix(self, *, item: AnnotationItem, choice: str, scores: dict) -> tuple[str, dict]:
        if choice not in Answer.Choice.values:
            raise ApplicationError(FIX_CHOICE)
        return choice, {}

    def apply_gold(self, *, item: AnnotationItem, gold: GoldDecision, reviewer) -> None:
        _apply_to_pairs(item=item, gold=gold, reviewer=reviewer)

    def task_context(self, *, item: AnnotationItem, lens: str) -> dict:
        return {"reason_codes": REASON_CODES.items()}

    def review_context(self, *, item: AnnotationItem) -> dict:
        return {"choices": Answer.Choice.choices}


def _clean(*, assignment: Assignment, data: dict) -> dict:
    side = data.get("side")
    if side not in (*SIDES, *TIES):
        raise ApplicationError(BAD_SIDE)
    reasons = data.get("reasons") or []
    for code in reasons:
        if code not in REASON_CODES:
            raise ApplicationError(BAD_REASON.format(code=code))
    note = data.get("note") or ""
    if len(note) > 2000:
        raise ApplicationError(NOTE_TOO_LONG)
    clean_text(note, field="note", max_len=2000)  # NUL, surrogates, controls, bidi/zero-width: a 400
    strength = ""
    if side in SIDES:
        if data.get("strength") not in STRENGTH_KEYS:
            raise ApplicationError(STRENGTH_REQUIRED)
        strength = STRENGTH_KEYS[data["strength"]]
        shown = assignment.display_order[SIDES[side]]
        choice = Answer.Choice.A if shown == assignment.item.candidate_a_id else Answer.Choice.B
    else:
        choice = TIES[side]
    return {
        "choice": choice,
        "strength": strength,
        "reason_codes": list(reasons),
        "note": note,
        "shown_left_id": (assignment.display_order or [None])[0],
    }


def _pair_for(*, answer: Answer, item: AnnotationItem) -> tuple[PreferencePair | None, bool]:
    """(the answer's pair, whether it was created). A pair with the same chosen, rejected, provenance and
    annotator may already exist (seeded or imported under this annotator's name): the answer agrees with
    it, so it is reused rather than duplicated (the unique constraint would refuse a second)."""
    if answer.choice not in (Answer.Choice.A, Answer.Choice.B):
        return None, False
    chosen, rejected = item.candidate_a_id, item.candidate_b_id
    if answer.choice == Answer.Choice.B:
        chosen, rejected = rejected, chosen
    provenance = pair_provenance(dialogue_source=item.dialogue.source, lens=answer.lens)
    existing = PreferencePair.objects.filter(
        chosen_id=chosen, rejected_id=rejected, provenance=provenance, annotator=answer.user
    ).first()
    if existing is not None:
        return existing, False
    pair = PreferencePair(
        dialogue_id=item.dialogue_id,
        turn=item.turn,
        chosen_id=chosen,
        rejected_id=rejected,
        strength=answer.strength,
        reason_codes=answer.reason_codes,
        note=answer.note,
        provenance=provenance,
        annotator=answer.user,
        guideline_id=answer.guideline_id,
        sop_id=answer.sop_id,
    )
    pair.full_clean(exclude=PAIR_RELATIONS, validate_unique=False)
    pair.save()
    return pair, True


def pair_provenance(*, dialogue_source: str, lens: str) -> str:
    """A pair judged on a production dialogue is a production pair, whoever's lens judged it; otherwise the
    annotator's lens names its provenance."""
    return "production" if dialogue_source == "production" else LENS_PROVENANCE[lens]


def _apply_to_pairs(*, item: AnnotationItem, gold: GoldDecision, reviewer) -> None:
    pairs = PreferencePair.objects.filter(answers__item=item).select_related("chosen")
    keep = {Answer.Choice.A: item.candidate_a_id, Answer.Choice.B: item.candidate_b_id}.get(gold.choice)
    if gold.decision == GoldDecision.Decision.REJECT:
        keep = None
    for pair in pairs:
        if keep is not None and pair.chosen_id == keep:
            pair.reviewed = True
            pair.save(update_fields=["reviewed"])
            continue
        audit_record(
            actor=reviewer, action="delete", instance=pair, before=audit_snapshot(pair), note=f"gold decision {gold.pk}"
        )
        pair.delete()
    if keep is not None and not PreferencePair.objects.filter(answers__item=item, reviewed=True).exists():
        rejected = item.candidate_b_id if keep == item.candidate_a_id else item.candidate_a_id
        PreferencePair.objects.get_or_create(
            chosen_id=keep,
            rejected_id=rejected,
            provenance=pair_provenance(dialogue_source=item.dialogue.source, lens=item.queue.lens),
            annotator=reviewer,
            defaults={
                "dialogue_id": item.dialogue_id,
                "turn": item.turn,
                "reviewed": True,
                "agreement": item.agreement,
                "guideline": item.queue.guideline,
                "sop": item.queue.sop,
                "note": gold.reason,
            },
        )


KIND = Pairwise()
