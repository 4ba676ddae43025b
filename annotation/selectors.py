"""Reads of the annotation workspace: queues and progress, the turn view's context, history, the library.

Agreement reports live in ``annotation/selectors_agreement.py``, dashboards in ``selectors_dashboard.py``.
"""

from functools import lru_cache

import bleach
import markdown
from django.core.cache import cache
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from annotation.models import (
    AnnotationItem,
    AnnotationQueue,
    Answer,
    Assignment,
    BadCase,
    BranchGeneration,
    Candidate,
    Dialogue,
    ExcellentTurn,
    Guideline,
    Message,
    SOPClause,
    SOPStage,
)
from annotation.services.assignment import LENS_ROLES
from kernel.models import AuditEvent
from kernel.roles import Role, has_role

ALLOWED_TAGS = [
    *bleach.sanitizer.ALLOWED_TAGS,
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "pre",
    "hr",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
]


@lru_cache(maxsize=64)
def _markdown_html(text: str) -> str:
    return bleach.clean(markdown.markdown(text, extensions=["tables", "fenced_code"]), tags=ALLOWED_TAGS, strip=True)


def guideline_html(guideline: Guideline | None) -> str:
    """The guideline's Markdown as sanitised HTML (bleach strips scripts, handlers and unknown tags)."""
    return _markdown_html(guideline.body_markdown) if guideline else ""


def queue_list_for_user(*, user) -> list[AnnotationQueue]:
    """Active queues of the user's lens; every queue, closed ones too, for reviewers and engineers."""
    queues = AnnotationQueue.objects.select_related("project", "guideline")
    if not has_role(user, (Role.REVIEWER, Role.ML_ENGINEER)):
        lenses = [lens for lens, role in LENS_ROLES.items() if has_role(user, (role,))]
        queues = queues.filter(lens__in=lenses, is_active=True)
    queues = queues.annotate(
        n_items=Count("items", distinct=True),
        n_answers=Count("assignments", filter=Q(assignments__status=Assignment.Status.SUBMITTED), distinct=True),
        n_mine=Count("assignments", filter=Q(assignments__user=user, assignments__status="submitted"), distinct=True),
    )
    return list(queues)


def queue_progress(*, queue: AnnotationQueue) -> dict:
    by_status = dict(queue.items.values_list("status").annotate(n=Count("id")))
    per_annotator = list(
        Answer.objects.filter(item__queue=queue)
        .values("user__username")
        .annotate(answers=Count("id"))
        .order_by("-answers")
    )
    total = sum(by_status.values())
    slots = total * queue.target_overlap
    answers = sum(row["answers"] for row in per_annotator)
    return {
        "by_status": [(label, by_status.get(value, 0)) for value, label in AnnotationItem.Status.choices],
        "total": total,
        "answers": answers,
        "percent": round(100 * answers / slots) if slots else 0,
        "per_annotator": per_annotator,
    }


PROGRESS_CACHE_S = 15


def queue_progress_for_user(*, user, queue: AnnotationQueue) -> dict:
    """The task page's progress line: items, items with all their answers, and the user's own answers.

    The queue-wide counts read every item of the queue (10–20 ms on a 100k-item queue), so they are cached
    for ``PROGRESS_CACHE_S`` seconds per queue; the user's own count is one index lookup and always fresh.
    """
    key = f"annotation:queue-progress:{queue.pk}"
    counts = cache.get(key)
    if counts is None:
        counts = queue.items.aggregate(
            items=Count("id"), finished=Count("id", filter=Q(answers_count__gte=F("overlap")))
        )
        cache.set(key, counts, PROGRESS_CACHE_S)
    mine = Assignment.objects.filter(queue=queue, user=user, status=Assignment.Status.SUBMITTED).count()
    items, finished = counts["items"] or 0, counts["finished"] or 0
    return {
        "items": items,
        "finished": finished,
        "mine": mine,
        "percent": round(100 * finished / items) if items else 0,
    }


def position_bias(*, queue: AnnotationQueue) -> dict:
    """How often a decided pairwise answer picked the reply shown on the left (0.5 = no position bias)."""
    decided = Answer.objects.filter(item__queue=queue, choice__in=[Answer.Choice.A, Answer.Choice.B])
    left = decided.filter(
        Q(choice=Answer.Choice.A, shown_left_id=F("item__candidate_a_id"))
        | Q(choice=Answer.Choice.B, shown_left_id=F("item__candidate_b_id"))
    ).count()
    total = decided.count()
    return {"decided": total, "left": left, "share_left": left / total if total else None}


def _messages_with_stage(dialogue_id: int, sop_id: int | None = None) -> list[Message]:
    """The dialogue's messages in order, each with ``stage_name``: its stage as the SOP names it (the key
    when the SOP has no such stage), so pages show words rather than keys."""
    names = dict(SOPStage.objects.filter(sop_id=sop_id).values_list("key", "name")) if sop_id else {}
    messages = list(Message.objects.filter(dialogue_id=dialogue_id).order_by("index"))
    for m in messages:
        m.stage_name = names.get(m.stage, m.stage)
    return messages


def turn_context(*, item: AnnotationItem, display_order: list[int] | None = None) -> dict:
    """Everything the turn view shows: the whole dialogue, the case panel, the stage's clauses, candidates."""
    dialogue = item.dialogue
    case = dialogue.case
    messages = _messages_with_stage(dialogue.pk, dialogue.sop_id)
    current = next((m for m in messages if m.index == item.turn), None)
    stage = current.stage if current else (messages[item.turn - 1].stage if 0 < item.turn <= len(messages) else "")
    all_clauses = list(SOPClause.objects.filter(sop_id=dialogue.sop_id).select_related("stage").order_by("code"))
    by_id = {c.pk: c for c in Candidate.objects.filter(pk__in=[item.candidate_a_id, item.candidate_b_id])}
    shown = [by_id[pk] for pk in (display_order or []) if pk in by_id]
    return {
        "item": item,
        "dialogue": dialogue,
        "case": case,
        "tickets": list(case.tickets.all()),
        "turns": messages,
        "prefix": [m for m in messages if m.index < item.turn],
        "current": current,
        "stage": stage,
        "stage_name": current.stage_name
        if current
        else next((m.stage_name for m in messages if m.stage == stage), stage),
        "clauses": [c for c in all_clauses if stage and c.stage.key == stage],
        "all_clauses": all_clauses,
        "candidates": list(zip("AB", shown, strict=False)),
    }


def branch_generations(*, dialogue_id: int, turn: int) -> list[BranchGeneration]:
    """The model generations at one fork, newest first, each with its candidates in row order."""
    return list(
        BranchGeneration.objects.filter(dialogue_id=dialogue_id, turn=turn)
        .select_related("model_version", "pairwise_queue", "requested_by")
        .prefetch_related(Prefetch("candidates", queryset=Candidate.objects.order_by("id")))
    )


# Blind annotation (docs/annotation-model.md "Blind by default"): on a blind queue an annotator sees only
# their own answers until every slot of the item is answered; reviewers, ML engineers and admins see all.
FINISHED = (AnnotationItem.Status.DONE, AnnotationItem.Status.IN_REVIEW, AnnotationItem.Status.RESOLVED)
SEES_ALL_ANSWERS = (Role.REVIEWER, Role.ML_ENGINEER)  # admin passes every role check


def sees_all_answers(user) -> bool:
    return has_role(user, SEES_ALL_ANSWERS)


def _blind_items() -> Q:
    """Items whose answers are still hidden from other annotators (blind queue, not finished)."""
    return Q(queue__blind=True) & ~Q(status__in=FINISHED)


def item_is_blind_for(*, item: AnnotationItem, viewer) -> bool:
    return item.queue.blind and item.status not in FINISHED and not sees_all_answers(viewer)


def hidden_bad_cases(*, viewer) -> QuerySet:
    """Ids of bad cases written as another annotator's answer on an item still blind to ``viewer``."""
    if sees_all_answers(viewer):
        return BadCase.objects.none().values("pk")
    blind = Answer.objects.filter(bad_case__isnull=False, item__in=AnnotationItem.objects.filter(_blind_items()))
    return blind.exclude(user=viewer).values("bad_case_id")


def visible_pairs(qs: QuerySet, *, viewer) -> QuerySet:
    """Preference pairs less those written as another annotator's answer on an item still blind to ``viewer``."""
    if sees_all_answers(viewer):
        return qs
    blind = Answer.objects.filter(preference_pair__isnull=False, item__in=AnnotationItem.objects.filter(_blind_items()))
    return qs.exclude(pk__in=blind.exclude(user=viewer).values("preference_pair_id"))


def visible_bad_cases(qs: QuerySet, *, viewer) -> QuerySet:
    return qs if sees_all_answers(viewer) else qs.exclude(pk__in=hidden_bad_cases(viewer=viewer))


def item_history(*, item: AnnotationItem, viewer) -> QuerySet:
    """Audit events of the item, its answers, their preference pairs and bad cases (newest first).

    While the item is blind to ``viewer`` only the viewer's own events are returned.
    """
    answers = list(item.answers.values_list("id", "preference_pair_id", "bad_case_id"))
    refs = Q(object_type="annotation.annotationitem", object_id=str(item.pk))
    refs |= Q(object_type="annotation.answer", object_id__in=[str(a) for a, _, _ in answers])
    refs |= Q(object_type="annotation.preferencepair", object_id__in=[str(p) for _, p, _ in answers if p])
    refs |= Q(object_type="annotation.badcase", object_id__in=[str(b) for _, _, b in answers if b])
    events = AuditEvent.objects.filter(refs)
    if item_is_blind_for(item=item, viewer=viewer):
        events = events.filter(actor=viewer)
    return events.select_related("actor")[:100]


def object_history(*, object_type: str, object_id: int, viewer) -> QuerySet:
    """Audit events of one object; a bad case still blind to ``viewer`` shows only the viewer's events."""
    events = AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))
    hidden = object_type == "annotation.badcase" and (
        BadCase.objects.filter(pk=object_id, pk__in=hidden_bad_cases(viewer=viewer)).exists()
    )
    if hidden:
        events = events.filter(actor=viewer)
    return events.select_related("actor")[:100]


def review_items(*, limit: int = 200) -> list[AnnotationItem]:
    """Items waiting for a reviewer, most disputed first."""
    return list(
        AnnotationItem.objects.filter(status=AnnotationItem.Status.IN_REVIEW)
        .select_related("queue", "dialogue")
        .order_by("agreement", "id")[:limit]
    )


def bad_case_list(*, status: str = "", category: str = "") -> QuerySet:
    qs = BadCase.objects.select_related("clause", "dialogue", "model_version").order_by("-updated_at")
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    return qs


def excellent_library(*, stage: str = "", hotel_type: str = "") -> list[dict]:
    """Flagged agent turns with their text, stage and hotel type, filterable by both."""
    rows = ExcellentTurn.objects.select_related("dialogue__case", "flagged_by").order_by("-created_at")
    if hotel_type:
        rows = rows.filter(dialogue__case__hotel_type=hotel_type)
    turns = list(rows[:500])
    texts = {
        (m.dialogue_id, m.index): m
        for m in Message.objects.filter(
            dialogue_id__in={t.dialogue_id for t in turns}, index__in={t.turn for t in turns}
        )
    }
    library = []
    for t in turns:
        message = texts.get((t.dialogue_id, t.turn))
        if message is None or (stage and message.stage != stage):
            continue
        library.append({"turn": t, "message": message, "case": t.dialogue.case})
    return library


DIALOGUES_PER_PAGE = 50


def dialogue_browse(*, q: str = "", source: str = "", hotel_type: str = "", project_id: int | None = None) -> QuerySet:
    """The dialogue browser's rows: search by external id, hotel name or city; filter by source, hotel
    type and project; newest first, with message and candidate counts."""
    rows = Dialogue.objects.select_related("case", "project")
    if q:
        rows = rows.filter(Q(external_id__icontains=q) | Q(case__hotel_name__icontains=q) | Q(case__city__icontains=q))
    if source:
        rows = rows.filter(source=source)
    if hotel_type:
        rows = rows.filter(case__hotel_type=hotel_type)
    if project_id:
        rows = rows.filter(project_id=project_id)

    # Counts as correlated sub-queries: computed for the page's rows only, not grouped over the whole table.
    def count_of(model):
        return Subquery(
            model.objects.filter(dialogue=OuterRef("pk"))
            .order_by()
            .values("dialogue")
            .annotate(n=Count("id"))
            .values("n")[:1]
        )

    return rows.annotate(n_messages=count_of(Message), n_candidates=count_of(Candidate)).order_by("-created_at", "-id")
