"""Review and consensus: a reviewer accepts the majority, rejects the item with a reason, or fixes it.

The gold decision is its own row (``GoldDecision``); the raw answers are never touched. What changes is the
derived training data: preference pairs that agree with the gold choice are marked reviewed, the others
are removed (a rejected item keeps no pair), and the item's bad cases move to ``reviewed`` on accept/fix.
"""

from collections import Counter
from statistics import median_low

from django.db import transaction

from annotation.models import AnnotationItem, Answer, BadCase, GoldDecision, PreferencePair, TaskKind
from annotation.models.labels import Provenance
from annotation.services.bad_cases import bad_case_transition
from annotation.services.questions import RUBRIC_DIMENSIONS
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError

NOT_REVIEWABLE = "Only items whose answers are all in can be reviewed."
ALREADY_DECIDED = "This item already has a gold decision."
REASON_REQUIRED = "Say why the item is rejected."
BAD_DECISION = "Decide accept, reject or fix."
FIX_CHOICE = "A fix needs the correct choice: A, B, Equal or Both bad."
FIX_SCORES = "A fix needs every score from 1 to 5."
REVIEWABLE = (AnnotationItem.Status.IN_REVIEW, AnnotationItem.Status.DONE)


def _majority(answers: list[Answer], kind: str) -> tuple[str, dict]:
    if kind == TaskKind.PAIRWISE:
        return Counter(a.choice for a in answers).most_common(1)[0][0], {}
    names = sorted({name for a in answers for name in a.scores})
    if kind == TaskKind.BAD_CASE:
        return "", {n: Counter(a.scores[n] for a in answers).most_common(1)[0][0] for n in names}
    return "", {n: median_low([a.scores[n] for a in answers]) for n in names}


def _clean_fix(*, item: AnnotationItem, choice: str, scores: dict) -> tuple[str, dict]:
    kind = item.queue.kind
    if kind == TaskKind.PAIRWISE:
        if choice not in Answer.Choice.values:
            raise ApplicationError(FIX_CHOICE)
        return choice, {}
    names = RUBRIC_DIMENSIONS[item.queue.lens] if kind == TaskKind.RUBRIC else ["rating"]
    if kind == TaskKind.BAD_CASE:
        return "", {}  # a bad case is fixed in its editor; the decision records that it was fixed
    if any(str(scores.get(n)) not in {"1", "2", "3", "4", "5"} for n in names):
        raise ApplicationError(FIX_SCORES)
    return "", {n: int(scores[n]) for n in names}


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
        provenance = Provenance.LANGUAGE_EXPERT if item.queue.lens == "language" else Provenance.BD_EXPERT
        PreferencePair.objects.get_or_create(
            chosen_id=keep,
            rejected_id=rejected,
            provenance=provenance,
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


def _apply_to_bad_cases(*, item: AnnotationItem, gold: GoldDecision, reviewer) -> None:
    if gold.decision == GoldDecision.Decision.REJECT:
        return
    for bad_case in BadCase.objects.filter(answers__item=item, status=BadCase.Status.GOLD_WRITTEN):
        bad_case_transition(bad_case=bad_case, to=BadCase.Status.REVIEWED, actor=reviewer, note=gold.reason)


@transaction.atomic
def gold_decide(
    *, item: AnnotationItem, reviewer, decision: str, reason: str = "", choice: str = "", scores: dict | None = None
) -> GoldDecision:
    item = AnnotationItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
    if decision not in GoldDecision.Decision.values:
        raise ApplicationError(BAD_DECISION)
    if GoldDecision.objects.filter(item=item).exists():
        raise ApplicationError(ALREADY_DECIDED, status=409)
    if item.status not in REVIEWABLE:
        raise ApplicationError(NOT_REVIEWABLE, status=409)
    reason = (reason or "").strip()
    if decision == GoldDecision.Decision.REJECT and not reason:
        raise ApplicationError(REASON_REQUIRED)
    if decision == GoldDecision.Decision.FIX:
        choice, scores = _clean_fix(item=item, choice=choice, scores=scores or {})
    else:
        choice, scores = _majority(list(item.answers.all()), item.queue.kind)
    gold = GoldDecision(item=item, reviewer=reviewer, decision=decision, reason=reason, choice=choice, scores=scores)
    gold.full_clean()
    gold.save()
    if item.queue.kind == TaskKind.PAIRWISE:
        _apply_to_pairs(item=item, gold=gold, reviewer=reviewer)
    elif item.queue.kind == TaskKind.BAD_CASE:
        _apply_to_bad_cases(item=item, gold=gold, reviewer=reviewer)
    before = {"status": item.status}
    item.status = AnnotationItem.Status.RESOLVED
    item.save(update_fields=["status"])
    audit_record(
        actor=reviewer,
        action="review",
        instance=item,
        before=before,
        after={"status": item.status, "gold": audit_snapshot(gold)},
        note=reason,
    )
    return gold
