"""Eval sets: list, create, detail (items, runs), freeze, new version, launch a run."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.models import BadCase, Dialogue
from evaluation.models import EvalSet, EvalSystem
from evaluation.selectors.sets import eval_item_list, eval_run_list, eval_run_progress, eval_set_list
from evaluation.services.runs import eval_run_create
from evaluation.services.sets import eval_set_create, eval_set_freeze, eval_set_new_version, eval_system_get_or_create
from kernel.errors import ApplicationError
from kernel.forms import posted_number
from kernel.refusals import validation_messages
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
        context["error"] = validation_messages(exc)[0] if isinstance(exc, ValidationError) else exc.messages[0]
        return render(request, "evaluation/eval_set_form.html", context, status=400)
    return redirect("evaluation:eval_set_detail", pk=eval_set.pk)


def _runs_with_progress(eval_set: EvalSet) -> tuple[list, bool]:
    runs = list(eval_run_list(eval_set=eval_set))
    for run in runs:
        run.live = eval_run_progress(run=run) if not run.is_terminal else None
    return runs, any(not r.is_terminal for r in runs)


@role_required(*LEADS)
def eval_set_runs(request, pk: int):
    """htmx partial: the runs table with each active run's progress; status 286 stops the polling."""
    eval_set = get_object_or_404(EvalSet, pk=pk)
    runs, active = _runs_with_progress(eval_set)
    context = {"eval_set": eval_set, "runs": runs, "active": active}
    return render(request, "evaluation/partials/runs.html", context, status=200 if active else 286)


@role_required(*LEADS)
def eval_set_detail(request, pk: int):
    eval_set = get_object_or_404(EvalSet, pk=pk)
    runs, active = _runs_with_progress(eval_set)
    context = {
        "eval_set": eval_set,
        "items": eval_item_list(eval_set=eval_set),
        "runs": runs,
        "active": active,
        "systems": EvalSystem.objects.select_related("model_version"),
        "model_versions": ModelVersion.objects.order_by("-created_at", "-id").only("name", "method", "created_at"),
        "reward_models": ModelVersion.objects.filter(method="rm").order_by("-created_at", "-id"),
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


def rm_dir_of(version: ModelVersion) -> str:
    """The directory the engine loads a reward model from: the RM job's run directory, else its adapter
    (the same rule as a reward config's RM)."""
    return (version.lineage or {}).get("run_dir") or version.adapter_path


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_run_create_view(request, pk: int):
    ids = [int(i) for i in request.POST.getlist("systems") if i.isdigit()]
    systems = list(EvalSystem.objects.filter(pk__in=ids))
    rm_dir = request.POST.get("rm_dir", "").strip()  # the API's way; the page picks an RM by name
    rm_pick = request.POST.get("rm_version", "").strip()
    if rm_pick:
        rm = ModelVersion.objects.filter(pk=posted_number(rm_pick), method="rm").first()
        if rm is None:
            messages.error(request, "That reward model is not in the registry; pick one from the list.")
            return redirect("evaluation:eval_set_detail", pk=pk)
        rm_dir = rm_dir_of(rm)

    def launch(eval_set):
        run = eval_run_create(
            eval_set=eval_set,
            systems=systems,
            created_by=request.user,
            judge_url=request.POST.get("judge_url", "").strip(),
            rm_dir=rm_dir,
        )
        messages.success(request, f"Run {run.pk} queued: {', '.join(s.name for s in systems)}.")
        return redirect("evaluation:eval_set_detail", pk=pk)

    return _act(request, pk, launch)


ERR_UNKNOWN_VERSION = "No model version is named {name!r}; pick one from the list (start typing its name)."


@role_required(Role.ML_ENGINEER)
@require_POST
def eval_system_create_view(request, pk: int):
    """Add a system by the model version's NAME as the registry lists it (the form's search list), or
    the human reply. A numeric ``model_version`` id is still accepted (older forms and scripts)."""
    gold = request.POST.get("gold") == "on"
    name = request.POST.get("model_version_name", "").strip()
    version = None
    if name:
        version = ModelVersion.objects.filter(name=name).first()
        if version is None:
            messages.error(request, ERR_UNKNOWN_VERSION.format(name=name[:200]))
            return redirect("evaluation:eval_set_detail", pk=pk)
    elif request.POST.get("model_version"):
        version = ModelVersion.objects.filter(pk=posted_number(request.POST.get("model_version"))).first()

    def add(eval_set):
        system = eval_system_get_or_create(model_version=version, gold=gold)
        messages.success(request, f"System {system.name} added: tick it under Run systems to generate its replies.")
        return redirect("evaluation:eval_set_detail", pk=pk)

    return _act(request, pk, add)
