"""Creating annotation queues and their items (which items: the task kind's, ``annotation.kinds``) from a
selection of dialogues or from filters."""

from django.db import transaction
from django.db.models import QuerySet

from annotation.kinds import kind_for
from annotation.models import AnnotationItem, AnnotationQueue, Dialogue, Project
from kernel.audit import audit_record, audit_snapshot
from kernel.errors import ApplicationError

NO_ITEMS = "The selection gives no items for this task kind (pairwise needs two candidates at a turn)."
BATCH = 2000


def dialogues_matching(*, project: Project, filters: dict) -> QuerySet:
    """Dialogues of ``project`` by source, hotel type, language, SOP stage reached or explicit ids."""
    qs = Dialogue.objects.filter(project=project)
    if filters.get("source"):
        qs = qs.filter(source=filters["source"])
    if filters.get("hotel_type"):
        qs = qs.filter(case__hotel_type=filters["hotel_type"])
    if filters.get("language"):
        qs = qs.filter(case__language=filters["language"])
    if filters.get("stage"):
        qs = qs.filter(messages__stage=filters["stage"]).distinct()
    if "ids" in filters:  # an explicit selection, even one naming no known dialogue, is a selection
        qs = qs.filter(pk__in=filters["ids"])
    return qs.order_by("id")


def queue_preview(*, kind: str, dialogues: QuerySet, stage: str = "") -> dict:
    """How many dialogues the filters match and how many items the kind would make of them; writes nothing."""
    ids = list(dialogues.values_list("id", flat=True))
    return {"dialogues": len(ids), "items": sum(1 for _ in kind_for(kind).items(ids, stage=stage))}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def queue_preview_text(preview: dict, *, overlap: int) -> str:
    """The preview in words, as the new-queue form shows it."""
    if not preview["items"]:
        return (
            f"These settings match {_plural(preview['dialogues'], 'dialogue')} and make no items: widen the "
            "filters, or pick another task kind (pairwise needs two candidates at a turn)."
        )
    return (
        f"{_plural(preview['items'], 'item')} match: {_plural(preview['dialogues'], 'dialogue')}, "
        f"{_plural(overlap, 'answer')} each."
    )


@transaction.atomic
def queue_create(
    *,
    project: Project,
    name: str,
    kind: str,
    lens: str,
    actor,
    dialogues: QuerySet,
    target_overlap: int = 1,
    per_user_cap: int | None = None,
    guideline=None,
    sop=None,
    reservation_minutes: int = 30,
    review_sample_rate: float = 0.1,
    stage: str = "",
    blind: bool = True,
) -> AnnotationQueue:
    queue = AnnotationQueue(
        project=project,
        name=name,
        kind=kind,
        lens=lens,
        target_overlap=target_overlap,
        per_user_cap=per_user_cap,
        guideline=guideline,
        sop=sop,
        reservation_minutes=reservation_minutes,
        review_sample_rate=review_sample_rate,
        blind=blind,
        created_by=actor,
    )
    queue.full_clean()
    queue.save()
    ids = list(dialogues.values_list("id", flat=True))
    rows = [
        AnnotationItem(queue=queue, dialogue_id=d, turn=t, candidate_a_id=a, candidate_b_id=b, overlap=target_overlap)
        for d, t, a, b in kind_for(kind).items(ids, stage=stage)
    ]
    if not rows:
        raise ApplicationError(NO_ITEMS)
    AnnotationItem.objects.bulk_create(rows, batch_size=BATCH)
    audit_record(actor=actor, action="create", instance=queue, after={**audit_snapshot(queue), "items": len(rows)})
    return queue


@transaction.atomic
def queue_set_active(*, queue: AnnotationQueue, active: bool, actor) -> AnnotationQueue:
    before = {"is_active": queue.is_active}
    queue.is_active = active
    queue.save(update_fields=["is_active"])
    audit_record(actor=actor, action="change", instance=queue, before=before, after={"is_active": active})
    return queue
