"""The evaluator's blind panel: start page, expertise, next item, the rating form."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from engine.vocab import FIX_STATUSES, SKILLS
from evaluation.models import Expertise, FixStatus, PanelAssignment
from evaluation.selectors.panels import panel_view
from evaluation.services.panels import (
    labels_for,
    panel_assignment_next,
    panel_assignment_refresh,
    panel_judgments_submit,
    panel_member_set,
    panel_progress,
)
from kernel.errors import ApplicationError
from kernel.forms import posted_number
from kernel.roles import Role, role_required

SKILL_KEYS = {"fluency": "F", "workflow_compliance": "W", "negotiation_effectiveness": "N", "scope_understanding": "S"}


@role_required(Role.EVALUATOR)
def panel_home(request):
    return render(
        request,
        "evaluation/panel_home.html",
        {"progress": panel_progress(user=request.user), "expertise_choices": Expertise.choices},
    )


@role_required(Role.EVALUATOR)
@require_POST
def panel_expertise(request):
    if request.POST.get("expertise") not in Expertise.values:
        messages.error(request, "Choose task, linguistics or CS.")
        return render(
            request,
            "evaluation/panel_home.html",
            {"progress": panel_progress(user=request.user), "expertise_choices": Expertise.choices},
            status=400,
        )
    panel_member_set(user=request.user, expertise=request.POST["expertise"])
    return redirect("evaluation:panel_home")


@role_required(Role.EVALUATOR)
@require_http_methods(["GET", "POST"])
def panel_next(request):
    """POST reserves the next item (a reservation is a write: CSRF-protected, never on a GET); a GET goes
    back to the panel's start page and its *Start rating* button."""
    if request.method == "GET":
        return redirect("evaluation:panel_home")
    return _panel_next(request)


def _panel_next(request):
    try:
        assignment = panel_assignment_next(user=request.user)
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, exc.messages[0])
        return redirect("evaluation:panel_home")
    if assignment is None:
        messages.success(request, "Nothing left to rate. Thank you!")
        return redirect("evaluation:panel_home")
    return redirect("evaluation:panel_item", pk=assignment.pk)


def parse_answers(post, labels: list[str]) -> dict[str, dict]:
    """Form fields ``A-rating``, ``A-excellent`` (turns), ``A-<skill>``, ``A-fix_status`` → the service's answers."""
    return {
        label: {
            "rating": posted_number(post.get(f"{label}-rating")),
            "excellent_turns": [t for t in map(posted_number, post.getlist(f"{label}-excellent")) if t is not None],
            "skills": {s: post.get(f"{label}-{s}") == "on" for s in SKILLS},
            "fix_status": post.get(f"{label}-fix_status") or None,
        }
        for label in labels
    }


@role_required(Role.EVALUATOR)
def panel_item(request, pk: int):
    assignment = get_object_or_404(PanelAssignment, pk=pk, rater=request.user)
    error, status = "", 200
    if request.method == "POST":
        labels = [label for label, _ in labels_for(assignment.order)]
        try:
            panel_judgments_submit(assignment=assignment, answers=parse_answers(request.POST, labels))
        except (ApplicationError, ValidationError) as exc:
            error, status = exc.messages[0], 400
        else:
            return _panel_next(request)
    else:  # systems run after the assignment was made join it
        assignment = panel_assignment_refresh(assignment=assignment)
    full_context = request.GET.get("context") == "full"
    context = panel_view(assignment=assignment, full_context=full_context)
    context.update(
        assignment=assignment,
        error=error,
        skills=[(s, s.replace("_", " "), SKILL_KEYS[s]) for s in SKILLS],
        fix_statuses=[(s, FixStatus(s).label, str(i)) for i, s in enumerate(FIX_STATUSES, start=1)],
        posted=request.POST if request.method == "POST" else None,
        full_context=full_context,
    )
    return render(request, "evaluation/panel_item.html", context, status=status)
