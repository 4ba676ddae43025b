"""Consensus: the lead's queue per eval set and the side-by-side page per item."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render

from engine.vocab import FIX_STATUSES, SKILLS
from evaluation.models import EvalItem, EvalSet, EvalSystem, FixStatus
from evaluation.selectors.panels import consensus_context, consensus_view
from evaluation.selectors.sets import eval_item_list
from evaluation.services.consensus import ERR_WITHOUT_JUDGMENTS, consensus_record
from evaluation.views.panels import parse_answers
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required

LEADS = (Role.REVIEWER, Role.ML_ENGINEER)


@role_required(*LEADS)
def consensus_queue(request, pk: int):
    eval_set = get_object_or_404(EvalSet, pk=pk)
    return render(
        request, "evaluation/consensus_queue.html", {"eval_set": eval_set, "items": eval_item_list(eval_set=eval_set)}
    )


@role_required(*LEADS)
def consensus_item(request, pk: int):
    item = get_object_or_404(EvalItem.objects.select_related("eval_set", "dialogue"), pk=pk)
    rows = consensus_view(item=item)
    error, status = "", 200
    if request.method == "POST" and not rows:
        error, status = ERR_WITHOUT_JUDGMENTS, 400
    elif request.method == "POST":
        answers = parse_answers(request.POST, [str(r["number"]) for r in rows])
        try:
            with transaction.atomic():  # all responses of the item, or none
                for row in rows:
                    answer = answers[str(row["number"])]
                    consensus_record(
                        item=item,
                        system=EvalSystem.objects.get(pk=row["system_id"]),
                        lead=request.user,
                        rating=answer["rating"],
                        excellent_turns=answer["excellent_turns"],
                        skills=answer["skills"],
                        fix_status=answer["fix_status"] or "",
                        note=request.POST.get("note", ""),
                    )
        except (ApplicationError, ValidationError) as exc:
            error, status = exc.messages[0], 400
        else:
            following = item.eval_set.items.filter(position__gt=item.position).order_by("position", "id").first()
            if following:
                return redirect("evaluation:consensus_item", pk=following.pk)
            return redirect("evaluation:consensus_queue", pk=item.eval_set_id)
    context = {
        "item": item,
        "eval_set": item.eval_set,
        "rows": rows,
        "error": error,
        "skills": [(s, s.replace("_", " ")) for s in SKILLS],
        "fix_statuses": [(s, FixStatus(s).label) for s in FIX_STATUSES],
        "ratings": range(1, 6),
        "context": consensus_context(item=item),
    }
    return render(request, "evaluation/consensus_item.html", context, status=status)
