"""Review and consensus pages (reviewers only): the review queue, one item with every raw answer side by
side, the gold decision, and a queue's disagreement list."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import AnnotationItem, AnnotationQueue, GoldDecision
from annotation.selectors import guideline_html, item_history, review_items, turn_context
from annotation.selectors_agreement import disagreement_items
from annotation.services.review import gold_decide, gold_plan, majority_tie
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required

REVIEW_ROLES = (Role.REVIEWER,)


@role_required(*REVIEW_ROLES)
def review_queue(request) -> HttpResponse:
    return render(request, "annotation/review_queue.html", {"items": review_items()})


def _review_context(item: AnnotationItem, viewer) -> dict:
    context = turn_context(item=item, display_order=[item.candidate_a_id, item.candidate_b_id])
    answers = list(item.answers.select_related("user", "bad_case__clause", "shown_left").order_by("id"))
    kind = item.queue.task_kind
    context.update(
        queue=item.queue,
        kind=kind,
        answers=answers,
        history=item_history(item=item, viewer=viewer),
        decisions=GoldDecision.Decision.choices,
        gold=GoldDecision.objects.filter(item=item).select_related("reviewer").first(),
        guideline_html=guideline_html(item.queue.guideline),
        scale=range(1, 6),
        tie=majority_tie(item=item, answers=answers),
        **kind.review_context(item=item),
    )
    return context


@role_required(*REVIEW_ROLES)
@require_http_methods(["GET", "POST"])
def review_item(request, item_id: int) -> HttpResponse:
    item = get_object_or_404(AnnotationItem.objects.select_related("queue", "dialogue__case"), pk=item_id)
    if request.method == "POST":
        skip = ("decision", "reason", "choice", "confirm", "csrfmiddlewaretoken")
        decision = {
            "decision": request.POST.get("decision", ""),
            "reason": request.POST.get("reason", ""),
            "choice": request.POST.get("choice", ""),
            "scores": {key: request.POST.get(key) for key in request.POST if key not in skip},
        }
        try:
            plan = gold_plan(item=item, **decision)
            if plan.removed and request.POST.get("confirm") != "yes":
                # Deleting someone's pair: say whose, and ask before doing it.
                fields = [
                    (k, v)
                    for k in request.POST
                    if k not in ("csrfmiddlewaretoken", "confirm")
                    for v in request.POST.getlist(k)
                ]
                context = {
                    **_review_context(item, request.user),
                    "plan": plan,
                    "fields": fields,
                    "decision_label": GoldDecision.Decision(decision["decision"]).label,
                }
                return render(request, "annotation/review_confirm.html", context)
            gold_decide(item=item, reviewer=request.user, **decision)
        except ApplicationError as error:
            if error.status != 400:
                raise
            context = {**_review_context(item, request.user), "error": error.message}
            return render(request, "annotation/review_item.html", context, status=400)
        label = GoldDecision.Decision(decision["decision"]).label
        messages.success(request, f"Item #{item.pk}: “{label}” saved. The decision {plan.summary()}.")
        next_item = review_items(limit=1)
        return (
            redirect("annotation:review_item", item_id=next_item[0].pk)
            if next_item
            else redirect("annotation:review_queue")
        )
    return render(request, "annotation/review_item.html", _review_context(item, request.user))


@role_required(Role.REVIEWER, Role.ML_ENGINEER)
def queue_disagreements(request, queue_id: int) -> HttpResponse:
    queue = get_object_or_404(AnnotationQueue, pk=queue_id)
    question = request.GET.get("question", "")
    rows = disagreement_items(queue=queue, question=question)
    return render(request, "annotation/disagreements.html", {"queue": queue, "rows": rows, "question": question})
