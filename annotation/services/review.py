"""Review and consensus: a reviewer accepts the majority, rejects the item with a reason, or fixes it.

The gold decision is its own row (``GoldDecision``); the raw answers are never touched. What the majority
is, what a fix must give and what the decision does to the derived training data belong to the queue's
task kind (``annotation.kinds``): pairwise keeps the preference pairs that agree with the gold choice and
removes the others (a rejected item keeps no pair); bad case moves the item's bad cases to ``reviewed``
on accept or fix.

A tie (1–1 on a nominal question) has no majority: *accept* is refused there, the reviewer fixes or
rejects. ``gold_plan`` says what a decision would do (whose pair stays, whose is removed) without writing,
so the page can ask for a confirmation that names them.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction

from annotation.kinds import kind_for
from annotation.models import AnnotationItem, Answer, GoldDecision
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.text import clean_text

NOT_REVIEWABLE = "Only items whose answers are all in can be reviewed."
ALREADY_DECIDED = "This item already has a gold decision."
REASON_REQUIRED = "Say why the item is rejected."
BAD_DECISION = "Decide accept, reject or fix."
TIED = (
    "The answers are tied {split}: there is no majority to accept. Choose Fix and give the correct answer, or Reject."
)
MAX_REASON_CHARS = 4000
REVIEWABLE = (AnnotationItem.Status.IN_REVIEW, AnnotationItem.Status.DONE)


def majority_tie(*, item: AnnotationItem, answers: list[Answer] | None = None) -> str:
    """ "" when the answers have a majority on every nominal question, else the split in words ("1–1")."""
    kind = kind_for(item.queue.kind)
    values = [kind.values(a) for a in (answers if answers is not None else item.answers.all())]
    for question in values[0] if values else []:
        if kind.level(question) != "nominal":
            continue
        counts = Counter(v.get(question) for v in values).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            return "–".join(str(n) for _, n in counts)
    return ""


@dataclass
class GoldPlan:
    """What a decision would store and what it does to the answers' preference pairs, before it is saved."""

    choice: str
    scores: dict
    reason: str
    kept: list[str] = field(default_factory=list)  # annotators whose pair stays (marked reviewed)
    removed: list[str] = field(default_factory=list)  # annotators whose pair is deleted
    reviewer_pair: bool = False  # nobody chose the gold side: a reviewer's pair is added

    def summary(self) -> str:
        """The decision's effect on training data, in words (the confirmation and the flash message)."""
        parts = []
        if self.kept:
            parts.append(f"keeps the pair of {', '.join(self.kept)}")
        if self.removed:
            parts.append(f"removes the pair of {', '.join(self.removed)}")
        if self.reviewer_pair:
            parts.append("adds a reviewer's pair for the correct choice")
        return "; ".join(parts) or "changes no preference pair"


def gold_plan(
    *, item: AnnotationItem, decision: str, reason: str = "", choice: str = "", scores: dict | None = None
) -> GoldPlan:
    """Validate a decision and say what it would do; writes nothing (``gold_decide`` saves it)."""
    if decision not in GoldDecision.Decision.values:
        raise ApplicationError(BAD_DECISION)
    if GoldDecision.objects.filter(item=item).exists():
        raise ApplicationError(ALREADY_DECIDED, status=409)
    if item.status not in REVIEWABLE:
        raise ApplicationError(NOT_REVIEWABLE, status=409)
    reason = clean_text(reason, field="reason", max_len=MAX_REASON_CHARS).strip()
    if decision == GoldDecision.Decision.REJECT and not reason:
        raise ApplicationError(REASON_REQUIRED)
    kind = kind_for(item.queue.kind)
    answers = list(item.answers.select_related("user", "preference_pair"))
    if decision == GoldDecision.Decision.FIX:
        choice, scores = kind.clean_fix(item=item, choice=choice, scores=scores or {})
    else:
        split = majority_tie(item=item, answers=answers)
        if decision == GoldDecision.Decision.ACCEPT and split:
            raise ApplicationError(TIED.format(split=split))
        choice, scores = kind.majority(answers)
    plan = GoldPlan(choice=choice, scores=scores, reason=reason)
    if kind.compares_candidates:
        keep = {Answer.Choice.A: item.candidate_a_id, Answer.Choice.B: item.candidate_b_id}.get(choice)
        if decision == GoldDecision.Decision.REJECT:
            keep = None
        for answer in answers:
            if answer.preference_pair is None:
                continue
            kept = keep is not None and answer.preference_pair.chosen_id == keep
            (plan.kept if kept else plan.removed).append(answer.user.username)
        plan.reviewer_pair = keep is not None and not plan.kept
    return plan


@transaction.atomic
def gold_decide(
    *, item: AnnotationItem, reviewer, decision: str, reason: str = "", choice: str = "", scores: dict | None = None
) -> GoldDecision:
    item = AnnotationItem.objects.select_for_update().select_related("queue").get(pk=item.pk)
    plan = gold_plan(item=item, decision=decision, reason=reason, choice=choice, scores=scores)
    choice, scores, reason = plan.choice, plan.scores, plan.reason
    kind = kind_for(item.queue.kind)
    gold = GoldDecision(item=item, reviewer=reviewer, decision=decision, reason=reason, choice=choice, scores=scores)
    gold.full_clean()
    gold.save()
    kind.apply_gold(item=item, gold=gold, reviewer=reviewer)
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
