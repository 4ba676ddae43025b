"""Studies: list, launch (the form), the study page and its live part (ML engineers; admins pass)."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from evaluation.models import EvalSet, Study
from evaluation.selectors.studies import study_view
from evaluation.services.studies import STUDY_METHODS, study_create
from kernel.errors import ApplicationError
from kernel.refusals import validation_messages
from kernel.roles import Role, role_required
from registry.models import ModelVersion
from rewards.models import RewardConfig
from training_jobs.models import DatasetSnapshot

BUDGET_FIELDS = ("max_steps", "completions_per_step", "accumulation", "grpo_group", "seed", "max_response_length")
ERR_NOT_FOUND = "{what} {value!r} does not exist."


@role_required(Role.ML_ENGINEER)
def study_list(request):
    studies = Study.objects.select_related("base_model", "created_by").prefetch_related("jobs")[:100]
    return render(request, "evaluation/study_list.html", {"studies": studies})


def _form_context(posted) -> dict:
    return {
        "form": posted,
        "methods": [(m.value, m.label) for m in STUDY_METHODS],
        "chosen_methods": posted.getlist("methods") if posted else [m.value for m in STUDY_METHODS],
        "chosen_snapshots": posted.getlist("snapshots") if posted else [],
        "base_models": ModelVersion.objects.filter(method="base").order_by("name"),
        "snapshots": DatasetSnapshot.objects.order_by("-created_at")[:200],
        "reward_configs": RewardConfig.objects.order_by("name"),
        "online_sets": EvalSet.objects.filter(kind=EvalSet.Kind.ONLINE, frozen_at__isnull=False),
        "bad_case_sets": EvalSet.objects.filter(kind=EvalSet.Kind.BAD_CASE, frozen_at__isnull=False),
    }


def _pick(model, value, what: str, *, optional: bool = False):
    """The row with id ``value`` (a posted string), None when optional and empty, else a 400 in words."""
    if optional and not value:
        return None
    text = str(value or "")
    row = model.objects.filter(pk=int(text)).first() if text.isdigit() and len(text) <= 18 else None
    if row is None:
        raise ApplicationError(ERR_NOT_FOUND.format(what=what, value=value or ""))
    return row


@role_required(Role.ML_ENGINEER)
def study_new(request):
    if request.method != "POST":
        return render(request, "evaluation/study_form.html", _form_context(None))
    post = request.POST
    try:
        ids = post.getlist("snapshots")
        snapshots = [_pick(DatasetSnapshot, i, "Snapshot") for i in ids]
        study = study_create(
            name=post.get("name", ""),
            base_model=_pick(ModelVersion, post.get("base_model"), "Base model"),
            snapshots=snapshots,
            methods=post.getlist("methods"),
            budget={key: post.get(key) for key in BUDGET_FIELDS if key in post},
            online_set=_pick(EvalSet, post.get("online_set"), "Online set"),
            bad_case_set=_pick(EvalSet, post.get("bad_case_set"), "Bad-case set"),
            reward_config=_pick(RewardConfig, post.get("reward_config"), "Reward configuration", optional=True),
            max_new_tokens=post.get("max_new_tokens") or 64,
            created_by=request.user,
        )
    except (ApplicationError, ValidationError) as exc:
        context = _form_context(post)
        context["error"] = validation_messages(exc)[0] if isinstance(exc, ValidationError) else exc.messages[0]
        return render(request, "evaluation/study_form.html", context, status=400)
    return redirect("evaluation:study_detail", pk=study.pk)


@role_required(Role.ML_ENGINEER)
def study_detail(request, pk: int):
    study = get_object_or_404(Study.objects.select_related("base_model", "reward_config"), pk=pk)
    return render(request, "evaluation/study_detail.html", {"study": study, "view": study_view(study=study)})


@role_required(Role.ML_ENGINEER)
def study_live(request, pk: int):
    """The study page's live part (jobs, automatic and human tables, chart data), fetched by
    ``evaluation/study.js`` every few seconds; the ``X-Study-Settled`` header tells it to stop."""
    study = get_object_or_404(Study, pk=pk)
    view = study_view(study=study)
    response = render(request, "evaluation/partials/study_live.html", {"study": study, "view": view})
    response["X-Study-Settled"] = "1" if view["settled"] else "0"
    return response
