"""Model registry pages. Writes go through ``registry.services`` (audited); a refusal propagates as its 4xx
page (``kernel.refusals``)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from kernel.roles import Role, role_required
from registry.merge import merge_request
from registry.models import ModelVersion
from registry.selectors import model_versions
from registry.services import version_stage_set, version_tags_set


@role_required(Role.ML_ENGINEER)
@require_GET
def model_list(request):
    method = request.GET.get("method", "")
    return render(
        request, "registry/model_list.html", {"models": model_versions(method=method)[:200], "method": method}
    )


@role_required(Role.ML_ENGINEER)
@require_GET
def model_detail(request, pk: int):
    model = get_object_or_404(ModelVersion.objects.select_related("base"), pk=pk)
    context = {
        "model": model,
        "jobs": model.produced_by.all(),
        "derived": model.derived.order_by("name"),
        "stages": ModelVersion.Stage.choices,
        "eval_systems": model.eval_systems.prefetch_related("runs__eval_set"),
    }
    return render(request, "registry/model_detail.html", context)


@role_required(Role.ML_ENGINEER)
@require_POST
def model_stage(request, pk: int):
    model = get_object_or_404(ModelVersion, pk=pk)
    slot = request.POST.get("slot")
    model = version_stage_set(version=model, stage=request.POST.get("stage", ""), slot=slot, actor=request.user)
    messages.success(request, f"{model.name} is now {model.get_stage_display().lower()}.")
    return redirect("registry:model_detail", pk=model.pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def model_tags(request, pk: int):
    model = get_object_or_404(ModelVersion, pk=pk)
    tags = [t.strip() for t in request.POST.get("tags", "").split(",") if t.strip()]
    version_tags_set(version=model, tags=tags, actor=request.user)
    messages.success(request, f"Tags of {model.name} saved.")
    return redirect("registry:model_detail", pk=model.pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def model_merge(request, pk: int):
    model = get_object_or_404(ModelVersion, pk=pk)
    job = merge_request(
        source=model,
        name=request.POST.get("name", ""),
        register_as=request.POST.get("register_as", "base"),
        actor=request.user,
    )
    messages.success(request, f"Merge job {job.pk} queued: {job.name} will be registered when it finishes.")
    return redirect("registry:model_detail", pk=model.pk)
