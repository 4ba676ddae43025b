"""Review and consensus: a reviewer accepts the majority, rejects the item with a reason, or fixes it.

The gold decision is its own row (``GoldDecision``); the raw answers are never touched. What the majority
is, what a fix must give and what the decision does to the derived training data belong to the queue's
task kind (``annotation.kinds``): pairwise keeps the preference pairs that agree with the gold choice and
removes the others (a rejected item keeps no pair); bad case moves the item's bad cases to ``reviewed``
on accept or fix.
"""

from django.db import transaction

from annotation.kinds import kind_for
from annotation.models import AnnotationItem, GoldDecision
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError
from kernel.text import clean_text

NOT_REVIEWABLE = "Only items whose answers are all in can be reviewed."
ALREADY_DECIDED = "This item already has a gold decision."
REASON_REQUIRED = "Say why the item is rejected."
BAD_DECISION = "Decide accept, reject or fix."
MAX_REASON_CHARS = 4000
REVIEWABLE = (AnnotationItem.Status.IN_REVIEW, AnnotationItem.Status.DONE)


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
    reason = clean_text(reason, field="reason", max_len=MAX_REASON_CHARS).strip()
    if decision == GoldDecision.Decision.REJECT and not reason:
        raise ApplicationError(REASON_REQUIRED)
    kind = kind_for(item.queue.kind)
    if decision == GoldDecision.Decision.FIX:
        choice, scores = kind.clean_fix(item=item, choice=choice, scores=scores or {})
    else:
        choice, scores = kind.majority(item.answers.all())
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
