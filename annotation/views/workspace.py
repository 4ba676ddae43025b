"""The annotator's workspace: queue list, queue creation, the next task, the turn view and its submission.
Adapters only: parse, call one service or selector, render."""

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from annotation.forms import QueueCreateForm
from annotation.models import AnnotationQueue, Answer, Assignment
from annotation.selectors import (
    guideline_html,
    position_bias,
    queue_list_for_user,
    queue_progress,
    queue_progress_for_user,
    turn_context,
)
from annotation.selectors_agreement import queue_agreement
from annotation.services.answers import (
    ALREADY_SUBMITTED,
    EXPIRED,
    NOT_YOUR_ANSWER,
    NOT_YOURS,
    answer_change,
    answer_change_refusal,
    answer_submit,
)
from annotation.services.assignment import annotation_task_next, assignment_release
from annotation.services.queues import (
    dialogues_matching,
    queue_create,
    queue_preview,
    queue_preview_text,
    queue_set_active,
)
from kernel.errors import ApplicationError
from kernel.refusals import refused
from kernel.roles import ANNOTATORS, Role, role_required

WORKSPACE_ROLES = (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER)
MANAGER_ROLES = (Role.REVIEWER, Role.ML_ENGINEER)


@role_required(*WORKSPACE_ROLES)
def workspace(request) -> HttpResponse:
    return render(request, "annotation/workspace.html", {"queues": queue_list_for_user(user=request.user)})


@role_required(*MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def queue_new(request) -> HttpResponse:
    form = QueueCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and "preview" in request.POST:
        data = form.cleaned_data
        dialogues = dialogues_matching(project=data["project"], filters=form.filters())
        preview = queue_preview(kind=data["kind"], dialogues=dialogues, stage=data.get("stage") or "")
        preview["text"] = queue_preview_text(preview, overlap=data["target_overlap"])
        return render(request, "annotation/queue_new.html", {"form": form, "preview": preview})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            queue = queue_create(
                project=data["project"],
                name=data["name"],
                kind=data["kind"],
                lens=data["lens"],
                actor=request.user,
                dialogues=dialogues_matching(project=data["project"], filters=form.filters()),
                target_overlap=data["target_overlap"],
                per_user_cap=data["per_user_cap"],
                guideline=data["guideline"],
                sop=data["sop"],
                reservation_minutes=data["reservation_minutes"],
                review_sample_rate=data["review_sample_rate"],
                stage=data.get("stage") or "",
                blind=data["blind"],
            )
        except ApplicationError as error:
            return refused(request, error, template="annotation/queue_new.html", context={"form": form})
        messages.success(request, f"Queue {queue.name} created with {queue.items.count()} items.")
        return redirect("annotation:queue_detail", queue_id=queue.pk)
    return render(request, "annotation/queue_new.html", {"form": form}, status=400 if form.errors else 200)


PREVIEW_FIELDS_IGNORED = ("name",)  # the count does not depend on the queue's name


@role_required(*MANAGER_ROLES)
@require_http_methods(["GET"])
def queue_preview_count(request) -> JsonResponse:
    """The new-queue form's live count: the same fields as the form (name aside) → how many dialogues the
    filters match and how many items the task kind makes of them. Writes nothing; a bad field is a 400 in
    words."""
    form = QueueCreateForm(request.GET)
    form.is_valid()
    errors = {name: errs for name, errs in form.errors.items() if name not in PREVIEW_FIELDS_IGNORED}
    if errors:
        field, messages_ = next(iter(errors.items()))
        label = form.fields[field].label if field in form.fields else "The form"
        return JsonResponse({"error": f"{label}: {messages_[0]}"}, status=400)
    data = form.cleaned_data
    dialogues = dialogues_matching(project=data["project"], filters=form.filters())
    preview = queue_preview(kind=data["kind"], dialogues=dialogues, stage=data.get("stage") or "")
    return JsonResponse({**preview, "text": queue_preview_text(preview, overlap=data["target_overlap"])})


@role_required(*WORKSPACE_ROLES)
def queue_detail(request, queue_id: int) -> HttpResponse:
    queue = get_object_or_404(AnnotationQueue.objects.select_related("project", "guideline", "sop"), pk=queue_id)
    context = {"queue": queue, "progress": queue_progress(queue=queue), "agreement": queue_agreement(queue=queue)}
    if queue.task_kind.compares_candidates:
        context["bias"] = position_bias(queue=queue)
    return render(request, "annotation/queue_detail.html", context)


@role_required(*MANAGER_ROLES)
@require_POST
def queue_toggle(request, queue_id: int) -> HttpResponse:
    queue = get_object_or_404(AnnotationQueue, pk=queue_id)
    queue = queue_set_active(queue=queue, active=not queue.is_active, actor=request.user)
    if queue.is_active:
        messages.success(request, f"Queue {queue.name} reopened: annotators get tasks from it again.")
    else:
        messages.success(request, f"Queue {queue.name} closed: nobody gets new tasks from it; answers stay.")
    return redirect("annotation:queue_detail", queue_id=queue.pk)


@role_required(*ANNOTATORS)
@require_http_methods(["GET", "POST"])
def task_next(request, queue_id: int) -> HttpResponse:
    """POST reserves the next task (a reservation is a write: CSRF-protected, never on a GET). A GET goes
    to the task the user already holds, or shows the queue with a *Start* button."""
    queue = get_object_or_404(AnnotationQueue, pk=queue_id)
    if request.method == "GET":
        held = Assignment.objects.filter(
            queue=queue, user=request.user, status=Assignment.Status.RESERVED, expires_at__gt=timezone.now()
        ).first()
        if held is not None:
            return redirect("annotation:task", assignment_id=held.pk)
        context = {"queue": queue, "progress": queue_progress_for_user(user=request.user, queue=queue)}
        return render(request, "annotation/queue_start.html", context)
    return _next_or_done(request, queue)


def _next_or_done(request, queue: AnnotationQueue) -> HttpResponse:
    assignment = annotation_task_next(user=request.user, queue=queue)
    if assignment is None:
        return redirect("annotation:queue_done", queue_id=queue.pk)
    return redirect("annotation:task", assignment_id=assignment.pk)


@role_required(*ANNOTATORS)
def queue_done(request, queue_id: int) -> HttpResponse:
    queue = get_object_or_404(AnnotationQueue, pk=queue_id)
    context = {"queue": queue, "progress": queue_progress_for_user(user=request.user, queue=queue)}
    return render(request, "annotation/queue_done.html", context)


@role_required(*ANNOTATORS)
def answer_previous(request, queue_id: int) -> HttpResponse:
    """*Go back*: the user's own last answers in this queue, each with *Change* while it may change (or
    why not, in words), and the way back to the task."""
    queue = get_object_or_404(AnnotationQueue, pk=queue_id)
    answers = list(
        Answer.objects.filter(item__queue=queue, user=request.user)
        .select_related("item__dialogue", "item__queue", "preference_pair", "bad_case")
        .order_by("-created_at", "-id")[:10]
    )
    for answer in answers:
        answer.change_refusal = answer_change_refusal(answer)
    return render(request, "annotation/answer_previous.html", {"queue": queue, "answers": answers})


@role_required(*ANNOTATORS)
@require_http_methods(["GET", "POST"])
def answer_change_view(request, answer_id: int) -> HttpResponse:
    """Change an earlier answer: the turn view again, filled with it; saving replaces it (audited)."""
    answer = get_object_or_404(
        Answer.objects.select_related("assignment__item__dialogue__case", "assignment__queue", "bad_case__clause"),
        pk=answer_id,
    )
    if answer.user_id != request.user.pk:
        raise ApplicationError(NOT_YOUR_ANSWER, status=403)
    assignment = answer.assignment
    queue = assignment.queue
    if request.method == "POST":
        try:
            answer_change(answer_id=answer.pk, user=request.user, data=_answer_data(request.POST))
        except ApplicationError as error:
            if error.status != 400:
                raise
            context = {**_task_context(assignment), "error": error.message, "posted": _answer_data(request.POST)}
            return render(request, "annotation/task.html", {**context, "changing": answer}, status=400)
        messages.success(request, "Answer changed.")
        return redirect("annotation:answer_previous", queue_id=queue.pk)
    refusal = answer_change_refusal(answer)
    if refusal:
        raise ApplicationError(refusal, status=409)
    posted = queue.task_kind.form_values(answer=answer, assignment=assignment)
    context = {**_task_context(assignment), "posted": posted, "changing": answer}
    return render(request, "annotation/task.html", context)


@role_required(*ANNOTATORS)
@require_POST
def task_release(request, assignment_id: int) -> HttpResponse:
    """*Skip* (give this task back and take the next) or *Release* (give it back and stop)."""
    assignment = assignment_release(assignment_id=assignment_id, user=request.user)
    if request.POST.get("then") == "next":
        messages.info(request, "Skipped: the task went back to the queue for someone else.")
        return _next_or_done(request, assignment.queue)
    messages.info(request, "Released: the task went back to the queue. Start again whenever you like.")
    return redirect("annotation:workspace")


def _answer_data(post) -> dict:
    data = {key: post.get(key) for key in post if key not in ("csrfmiddlewaretoken", "reasons")}
    data["reasons"] = post.getlist("reasons")
    return data


def _task_context(assignment: Assignment) -> dict:
    item, queue = assignment.item, assignment.queue
    kind = queue.task_kind
    context = turn_context(item=item, display_order=assignment.display_order)
    context.update(
        assignment=assignment,
        queue=queue,
        kind=kind,
        guideline_html=guideline_html(queue.guideline),
        scale=range(1, 6),
        progress=queue_progress_for_user(user=assignment.user, queue=queue),
        previous=Assignment.objects.filter(queue=queue, user=assignment.user, status=Assignment.Status.SUBMITTED)
        .order_by("-submitted_at")
        .values_list("item_id", flat=True)
        .first(),
        **kind.task_context(item=item, lens=queue.lens),
    )
    return context


@role_required(*ANNOTATORS)
@require_http_methods(["GET", "POST"])
def task(request, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(
        Assignment.objects.select_related(
            "item__dialogue__case", "item__candidate_a", "queue__guideline", "queue__sop"
        ),
        pk=assignment_id,
    )
    if request.method == "POST":
        try:
            answer_submit(assignment_id=assignment.pk, user=request.user, data=_answer_data(request.POST))
        except ApplicationError as error:
            if error.status != 400:
                raise
            context = {**_task_context(assignment), "error": error.message, "posted": _answer_data(request.POST)}
            return render(request, "annotation/task.html", context, status=400)
        messages.success(request, "Answer saved.")
        try:
            return _next_or_done(request, assignment.queue)
        except ApplicationError as error:  # saved, but no next task here (the queue was closed meanwhile)
            messages.info(request, error.message)
            return redirect("annotation:workspace")
    if assignment.user_id != request.user.pk:
        raise ApplicationError(NOT_YOURS, status=403)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise ApplicationError(ALREADY_SUBMITTED, status=409)
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= timezone.now():
        raise ApplicationError(EXPIRED, status=409)
    return render(request, "annotation/task.html", _task_context(assignment))
