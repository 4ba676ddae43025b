"""Pages of deployments: the list (start, stop), one deployment (adapters, log tail, health history).
ML engineers and admins only. Writes go through ``deploy.services.serving``; a refusal is a 4xx with the
service's message (``kernel.refusals``)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deploy.services.serving import adapter_add, adapter_remove, adapter_replace, deployment_create, deployment_stop
from deploy.serving_models import Deployment, DeploymentAdapter
from engine.serve import log_tail
from kernel.errors import ApplicationError
from kernel.roles import Role, role_required
from kernel.status import ACTIVE
from registry.models import ModelVersion

BAD_VERSION = "Pick a registered {what} (field {field!r})."
LOG_LINES = 60


def _version(request, field: str, *, kind: str | tuple, what: str, required: bool = True) -> ModelVersion | None:
    raw = request.POST.get(field, "").strip()
    if not raw and not required:
        return None
    if not raw.isdigit() or len(raw) > 18:  # int() refuses 4300+ digits; no id has 19
        raise ApplicationError(BAD_VERSION.format(what=what, field=field))
    kinds = kind if isinstance(kind, tuple) else (kind,)
    version = ModelVersion.objects.filter(pk=int(raw), kind__in=kinds).first()
    if version is None:
        raise ApplicationError(BAD_VERSION.format(what=what, field=field))
    return version


def _int(request, field: str, default: int) -> int:
    raw = request.POST.get(field, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise ApplicationError(f"{field} must be a whole number (got {raw[:20]!r}).")
    return int(raw)


@role_required(Role.ML_ENGINEER)
@require_GET
def deployment_list(request):
    deployments = Deployment.objects.select_related("base").prefetch_related("adapters__version")
    active = [d for d in deployments if d.status in ACTIVE]
    return render(
        request,
        "deploy/deployment_list.html",
        {
            "active": active,
            "ended": [d for d in deployments if d.status not in ACTIVE][:20],
            # a reward model is served alone, for /classify (the chat playground and the reward playground)
            "bases": ModelVersion.objects.filter(kind__in=[ModelVersion.Kind.BASE, ModelVersion.Kind.REWARD_MODEL]),
            "policies": ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY).exclude(adapter_path=""),
            "refresh": any(d.state == Deployment.State.STARTING or d.status == "queued" for d in active),
        },
    )


@role_required(Role.ML_ENGINEER)
@require_POST
def deployment_new(request):
    servable = (ModelVersion.Kind.BASE, ModelVersion.Kind.REWARD_MODEL)
    base = _version(request, "base", kind=servable, what="base model or reward model")
    ids = request.POST.getlist("adapters")
    if not all(i.isdigit() and len(i) <= 18 for i in ids):  # a 5000-digit "id" is refused, not int()'ed
        raise ApplicationError(BAD_VERSION.format(what="policy version", field="adapters"))
    found = {v.pk: v for v in ModelVersion.objects.filter(pk__in=[int(i) for i in ids])}
    missing = [i for i in ids if int(i) not in found]
    if missing:
        raise ApplicationError(f"adapters[{ids.index(missing[0])}]: no version with id {missing[0]}.")
    deployment = deployment_create(
        base=base,
        slot=request.POST.get("slot", ""),
        adapters=[found[int(i)] for i in ids],
        max_loras=_int(request, "max_loras", 4),
        max_lora_rank=_int(request, "max_lora_rank", 64),
        actor=request.user,
    )
    messages.success(request, f"Deployment {deployment.pk} queued on the serve queue.")
    return redirect("deploy:deployment_detail", pk=deployment.pk)


@role_required(Role.ML_ENGINEER)
@require_GET
def deployment_detail(request, pk: int):
    deployment = get_object_or_404(Deployment.objects.select_related("base"), pk=pk)
    context = {
        "d": deployment,
        "adapters": deployment.adapters.select_related("version"),
        "policies": ModelVersion.objects.filter(kind=ModelVersion.Kind.POLICY, base=deployment.base).exclude(
            adapter_path=""
        ),
        "log": log_tail(deployment.log_path, LOG_LINES) if deployment.log_path else "(not started yet)",
        "history": list(reversed(deployment.health_history or []))[:20],
        "refresh": deployment.status in ACTIVE,
    }
    template = "deploy/partials/deployment_live.html" if request.htmx else "deploy/deployment_detail.html"
    return render(request, template, context)


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def deployment_stop_view(request, pk: int):
    """GET: the confirmation; POST: stop (the supervisor stops the server within a second)."""
    deployment = get_object_or_404(Deployment, pk=pk)
    if request.method == "POST":
        deployment_stop(deployment=deployment, actor=request.user)
        messages.success(request, f"Deployment {deployment.pk} is stopping.")
        return redirect("deploy:deployment_detail", pk=pk)
    return render(request, "deploy/deployment_stop.html", {"d": deployment})


@role_required(Role.ML_ENGINEER)
@require_POST
def deployment_adapter_add(request, pk: int):
    deployment = get_object_or_404(Deployment.objects.select_related("base"), pk=pk)
    version = _version(request, "version", kind=ModelVersion.Kind.POLICY, what="policy version")
    adapter = adapter_add(
        deployment=deployment, version=version, served_name=request.POST.get("served_name", ""), actor=request.user
    )
    messages.success(request, f"{adapter.served_name} is loading into the running server.")
    return redirect("deploy:deployment_detail", pk=pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def deployment_adapter_replace(request, pk: int, adapter_pk: int):
    adapter = get_object_or_404(DeploymentAdapter, pk=adapter_pk, deployment_id=pk)
    version = _version(request, "version", kind=ModelVersion.Kind.POLICY, what="policy version")
    adapter_replace(adapter=adapter, version=version, actor=request.user)
    messages.success(request, f"{adapter.served_name} now loads {version.name} (no restart).")
    return redirect("deploy:deployment_detail", pk=pk)


@role_required(Role.ML_ENGINEER)
@require_POST
def deployment_adapter_remove(request, pk: int, adapter_pk: int):
    adapter = get_object_or_404(DeploymentAdapter, pk=adapter_pk, deployment_id=pk)
    adapter_remove(adapter=adapter, actor=request.user)
    messages.success(request, f"{adapter.served_name} is being removed.")
    return redirect("deploy:deployment_detail", pk=pk)
