"""Eval sets: list, create, detail (items, runs), freeze, new version, launch a run."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import BadCase, Dialogue
from evaluation.models import EvalSet, EvalSystem
from evaluation.selectors.sets import eval_item_list, eval_run_list, eval_set_list
from evaluation.services.runs import eval_run_create
from evaluation.services.sets import eval_set_create, eval_set_freeze, eval_set_new_version, eval_system_get_or_create
from kernel.errors import ApplicationError
from kernel.forms import posted_number
from kernel.roles import Role, has_role, role_required
from registry.models import ModelVersion

LEADS = (Role.REVIEWER, Role.ML_ENGINEER)


@role_required(Role.ML_ENGINEER, Role.REVIEWER, Role.EVALUATOR)
def eval_set_list_view(request):
    # Evaluators see the sets and their size only: nothing that names a system.
    lead = has_role(request.user, LEADS)
    return render(request, "evaluation/eval_set_list.html", {"sets": eval_set_list(), "lead": lead})


def _split(text: str) -> list[str]:
    return [t for t in text.replace(",", " ").split() if t]


@role_required(Role.ML_ENGINEER)
def eval_set_create_view(request):
    context = {"kinds": EvalSet.Kind.choices, "form": request.POST}
    if request.method != "POST":
        return render(request, "evaluation/eval_set_form.html", context)
    name, kind = request.POST.get("name", "").strip(), request.POST.get("kind")
    refs = _split(request.POST.get("refs", ""))
    try:
        if not name or kind not in EvalSet.Kind.values:
            raise ApplicationError("Give the set a name and a kind.")
        if kind == EvalSet.Kind.ONLINE:
            found = {d.external_id: d for d in Dialogue.objects.filter(external_id__in=refs)}
            dialogues, bad_cases = [found[r] for r in refs if r in found], []
        else:
            ids = [int(r) for r in refs if r.isdigit()]
            found = {b.pk: b for b in BadCase.objects.filter(pk__in=ids).select_related("dialogue")}
            dialogues, bad_cases = [], [found[i] for i in ids if i in found]
        missing = len(refs) - len(dialogues) - len(bad_cases)
        if missing:
            raise ApplicationError(f"{missing} of the references were not found.")
        eval_set = eval_set_create(
            name=name,
            kind=kind,
            dialogues=dialogues,
            bad_cases=bad_cases,
            description=request.POST.get("description", ""),
            created_by=request.user,
        )
    except (ApplicationError, ValidationError) as exc:
        context["error"] = exc.messages[0]
        return render(request, "evaluation/eval_set_form.html", context, status=400)
    return redirect("evaluation:eval_set_detail", pk=eval_set.pk)


@role_required(*LEADS)
def eval_set_detail(request, pk: int):
    eval_set = get_object_or_404(EvalSet, pk=pk)
    context = {
        "eval_set": eval_set,
        "items": eval_item_list(eval_set=eval_set),
        "runs": eval_run_list(eval_set=eval_set),
        "systems": EvalSystem.objects.select_related("model_version"),
    }
    return render(request, "evaluation/eval_set_detail.html", context)


def _act(request, pk: int, action) -> object:
    eval_set = get_object_or_404(EvalSet, pk=pk)
    try:
        result = action(eval_set)
    except (ApplicationError, ValidationError) as exc:
        messages.error(request, exc.messages[0])
        return redirect("evaluation:eval_set_detail", pk=pk)
    return result


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_set_freeze_view(request, pk: int):
    result = _act(request, pk, lambda s: eval_set_freeze(eval_set=s, actor=request.user))
    return result if not isinstance(result, EvalSet) else redirect("evaluation:eval_set_detail", pk=pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_set_version_view(request, pk: int):
    result = _act(request, pk, lambda s: eval_set_new_version(eval_set=s, actor=request.user))
    return result if not isinstance(result, EvalSet) else redirect("evaluation:eval_set_detail", pk=result.pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_run_create_view(request, pk: int):
    ids = [int(i) for i in request.POST.getlist("systems") if i.isdigit()]
    systems = list(EvalSystem.objects.filter(pk__in=ids))

    def launch(eval_set):
        run = eval_run_create(
            eval_set=eval_set,
            systems=systems,
            created_by=request.user,
            judge_url=request.POST.get("judge_url", "").strip(),
            rm_dir=request.POST.get("rm_dir", "").strip(),
        )
        messages.success(request, f"Run {run.pk} queued.")
        return redirect("evaluation:eval_set_detail", pk=pk)

    return _act(request, pk, launch)


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_system_create_view(request, pk: int):
    version = ModelVersion.objects.filter(pk=posted_number(request.POST.get("model_version"))).first()
    return _act(
        request,
        pk,
        lambda s: (
            eval_system_get_or_create(model_version=version, gold=request.POST.get("gold") == "on")
            and redirect("evaluation:eval_set_detail", pk=pk)
        ),
    )
