"""Dialogues outside a queue: the dialogue page (flag excellent turns, branch at a turn: write an alternative
or generate some from a model version), the bad-case editor and list, the excellent library, history panels
and the guideline panel."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotation.kinds import kinds_comparing_candidates
from annotation.models import (
    AnnotationItem,
    AnnotationQueue,
    BadCase,
    Candidate,
    Dialogue,
    ExcellentTurn,
    Guideline,
    Project,
    SOPStage,
)
from annotation.selectors import (
    DIALOGUES_PER_PAGE,
    bad_case_list,
    branch_generations,
    dialogue_browse,
    excellent_library,
    guideline_html,
    item_history,
    object_history,
    turn_context,
    visible_bad_cases,
)
from annotation.services.bad_cases import TRANSITIONS, bad_case_edit_gold, bad_case_transition
from annotation.services.branching import branch_create, branch_generate_request
from annotation.services.excellent import excellent_flag
from kernel.errors import ApplicationError
from kernel.forms import posted_number
from kernel.roles import ANNOTATORS, Role, has_role, role_required
from registry.models import ModelVersion

READ_ROLES = (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER)
EDIT_ROLES = (*ANNOTATORS, Role.REVIEWER)
HISTORY_TYPES = {
    "item": "annotation.annotationitem",
    "badcase": "annotation.badcase",
    "dialogue": "annotation.dialogue",
}


@role_required(*READ_ROLES)
def dialogue_list(request) -> HttpResponse:
    """The dialogue browser: search, filter, paginate; each row opens the dialogue page."""
    q = request.GET.get("q", "").strip()[:200]
    source, hotel_type = request.GET.get("source", ""), request.GET.get("hotel_type", "")
    project_id = posted_number(request.GET.get("project"))
    rows = dialogue_browse(q=q, source=source, hotel_type=hotel_type, project_id=project_id)
    page = Paginator(rows, DIALOGUES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "q": q,
        "source": source,
        "hotel_type": hotel_type,
        "project_id": project_id,
        "projects": Project.objects.order_by("name"),
        "sources": Dialogue.Source.choices,
        "hotel_types": Dialogue._meta.get_field("case").related_model.HotelType.choices,
        "query": query.urlencode(),
    }
    return render(request, "annotation/dialogues.html", context)


@role_required(*READ_ROLES)
def dialogue_detail(request, dialogue_id: int) -> HttpResponse:
    dialogue = get_object_or_404(Dialogue.objects.select_related("case", "sop"), pk=dialogue_id)
    flagged = set(ExcellentTurn.objects.filter(dialogue=dialogue).values_list("turn", flat=True))
    context = turn_context(item=AnnotationItem(dialogue=dialogue, turn=-1))
    bad_cases = visible_bad_cases(dialogue.bad_cases.select_related("clause"), viewer=request.user)
    # Model candidates and branch alternatives; a bad case's gold reply ("gold:<id>") is an annotator's answer
    # and is shown only through the bad-case list, which keeps blind answers hidden until the item is done.
    alternatives = (
        Candidate.objects.filter(dialogue=dialogue)
        .exclude(key__startswith="gold:")
        .select_related("author")
        .order_by("turn", "id")
    )
    # Branching, flagging and the bad-case editor are the annotators' and reviewers': no links others
    # could only follow into a refusal.
    can_edit = has_role(request.user, EDIT_ROLES)
    context.update(flagged=flagged, bad_cases=bad_cases, alternatives=alternatives, can_edit=can_edit)
    return render(request, "annotation/dialogue.html", context)


@role_required(*EDIT_ROLES)
@require_POST
def excellent_add(request, dialogue_id: int, turn: int) -> HttpResponse:
    dialogue = get_object_or_404(Dialogue, pk=dialogue_id)
    excellent_flag(dialogue=dialogue, turn=turn, user=request.user, note=request.POST.get("note", ""))
    if request.htmx:
        return render(request, "annotation/partials/excellent_flagged.html", {"turn": turn})
    return redirect("annotation:dialogue", dialogue_id=dialogue.pk)


@role_required(*READ_ROLES)
def excellent_list(request) -> HttpResponse:
    stage, hotel_type = request.GET.get("stage", ""), request.GET.get("hotel_type", "")
    names: dict[str, str] = {}  # stage key → the name the first SOP (in stage order) gives it
    for key, name in SOPStage.objects.order_by("order", "id").values_list("key", "name"):
        names.setdefault(key, name)
    context = {
        "rows": excellent_library(stage=stage, hotel_type=hotel_type),
        "stages": list(names.items()),  # in the SOP's order
        "stage_names": names,
        "hotel_types": Dialogue._meta.get_field("case").related_model.HotelType.choices,
        "stage": stage,
        "hotel_type": hotel_type,
    }
    return render(request, "annotation/excellent.html", context)


def _branch_context(dialogue: Dialogue, turn: int) -> dict:
    generations = branch_generations(dialogue_id=dialogue.pk, turn=turn)
    return {
        **turn_context(item=AnnotationItem(dialogue=dialogue, turn=turn)),
        "queues": AnnotationQueue.objects.filter(
            project=dialogue.project, kind__in=kinds_comparing_candidates(), is_active=True
        ),
        "turn": turn,
        "model_versions": ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY).order_by("name"),
        "generations": generations,
        "generating": any(g.is_active for g in generations),
    }


@role_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def branch(request, dialogue_id: int, turn: int) -> HttpResponse:
    dialogue = get_object_or_404(Dialogue.objects.select_related("case"), pk=dialogue_id)
    context = _branch_context(dialogue, turn)
    if request.htmx and request.method == "GET":  # the generations list polls itself while any is running
        return render(request, "annotation/partials/branch_generations.html", context)
    if request.method == "POST":
        queue_id = posted_number(request.POST.get("queue"))
        queue = context["queues"].filter(pk=queue_id).first() if queue_id else None
        try:
            branch_create(
                dialogue=dialogue, turn=turn, text=request.POST.get("text", ""), author=request.user, queue=queue
            )
        except ApplicationError as error:
            return render(request, "annotation/branch.html", {**context, "error": error.message}, status=error.status)
        where = f" and added to the queue {queue.name}" if queue else ""
        messages.success(
            request, f"Alternative reply at turn #{turn} saved{where}; it is listed under that turn below."
        )
        return redirect(f"{reverse('annotation:dialogue', args=[dialogue.pk])}#turn-{turn}")
    return render(request, "annotation/branch.html", context)


@role_required(*EDIT_ROLES)
@require_POST
def branch_generate(request, dialogue_id: int, turn: int) -> HttpResponse:
    dialogue = get_object_or_404(Dialogue.objects.select_related("case"), pk=dialogue_id)
    queue_id, version_id = posted_number(request.POST.get("queue")), posted_number(request.POST.get("model_version"))
    try:
        branch_generate_request(
            dialogue=dialogue,
            turn=turn,
            model_version=ModelVersion.objects.filter(pk=version_id).first() if version_id else None,
            count=posted_number(request.POST.get("count")),
            temperature=posted_number(request.POST.get("temperature"), float),
            max_new_tokens=posted_number(request.POST.get("max_new_tokens")),
            queue=AnnotationQueue.objects.filter(pk=queue_id).first() if queue_id else None,
            actor=request.user,
        )
    except ApplicationError as error:
        context = {**_branch_context(dialogue, turn), "error": error.message, "form": request.POST}
        return render(request, "annotation/branch.html", context, status=error.status)
    return redirect("annotation:branch", dialogue_id=dialogue.pk, turn=turn)


@role_required(*READ_ROLES)
def bad_cases(request) -> HttpResponse:
    status, category = request.GET.get("status", ""), request.GET.get("category", "")
    context = {
        "rows": visible_bad_cases(bad_case_list(status=status, category=category), viewer=request.user)[:300],
        "statuses": BadCase.Status.choices,
        "categories": BadCase.Category.choices,
        "status": status,
        "category": category,
        "can_edit": has_role(request.user, EDIT_ROLES),
    }
    return render(request, "annotation/bad_cases.html", context)


@role_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def bad_case_edit(request, bad_case_id: int) -> HttpResponse:
    bad_cases = visible_bad_cases(BadCase.objects.select_related("dialogue__case", "clause"), viewer=request.user)
    bad_case = get_object_or_404(bad_cases, pk=bad_case_id)
    context = turn_context(item=AnnotationItem(dialogue=bad_case.dialogue, turn=bad_case.turn))
    context.update(
        bad_case=bad_case,
        categories=BadCase.Category.choices,
        severities=BadCase.Severity.choices,
        next_statuses=sorted(TRANSITIONS.get(bad_case.status, set()) - {BadCase.Status.GOLD_WRITTEN}),
        history=object_history(object_type="annotation.badcase", object_id=bad_case.pk, viewer=request.user),
    )
    status = 200
    if request.method == "POST":
        try:
            bad_case_edit_gold(bad_case=bad_case, data=request.POST.dict(), actor=request.user)
            messages.success(request, f"Bad case #{bad_case.pk}: gold reply saved; its diff is updated below.")
            return redirect("annotation:bad_case", bad_case_id=bad_case.pk)
        except ApplicationError as error:
            context["error"], status = error.message, error.status
    return render(request, "annotation/bad_case.html", context, status=status)


@role_required(Role.REVIEWER)
@require_POST
def bad_case_status(request, bad_case_id: int) -> HttpResponse:
    bad_case = get_object_or_404(BadCase, pk=bad_case_id)
    bad_case = bad_case_transition(
        bad_case=bad_case, to=request.POST.get("to", ""), actor=request.user, note=request.POST.get("note", "")
    )
    messages.success(request, f"Bad case #{bad_case.pk} is now “{bad_case.get_status_display()}”.")
    return redirect("annotation:bad_case", bad_case_id=bad_case.pk)


@role_required(*READ_ROLES)
def history(request, kind: str, object_id: int) -> HttpResponse:
    if kind == "item":
        item = get_object_or_404(AnnotationItem.objects.select_related("queue"), pk=object_id)
        events = item_history(item=item, viewer=request.user)
    elif kind in HISTORY_TYPES:
        events = object_history(object_type=HISTORY_TYPES[kind], object_id=object_id, viewer=request.user)
    else:
        raise ApplicationError("Unknown history kind.", status=404)
    return render(request, "annotation/partials/history.html", {"history": events})


@role_required(*READ_ROLES)
def guideline(request, guideline_id: int) -> HttpResponse:
    guideline = get_object_or_404(Guideline, pk=guideline_id)
    return render(
        request,
        "annotation/partials/guideline.html",
        {"guideline": guideline, "guideline_html": guideline_html(guideline)},
    )
