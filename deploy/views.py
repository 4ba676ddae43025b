"""Pages of the production loop: lineage of a version and of a bad case, and the A/B report of a slot with
its promote step (a confirmation page, then the stage service)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotation.models import BadCase
from deploy.services.abtest import ab_report, slots
from deploy.services.lineage import bad_case_lineage, version_lineage
from kernel.api_keys import API_KEY_DAYS, ApiKey, api_key_create, api_key_revoke
from kernel.errors import ApplicationError
from kernel.roles import Role, has_role, role_required
from registry.models import ModelVersion
from registry.services import version_promote


@role_required(Role.ML_ENGINEER)
@require_GET
def version_lineage_view(request, pk: int):
    version = get_object_or_404(ModelVersion, pk=pk)
    return render(request, "deploy/version_lineage.html", {"model": version, "lineage": version_lineage(version)})


@role_required(Role.ML_ENGINEER)
@require_GET
def bad_case_lineage_view(request, pk: int):
    bad_case = get_object_or_404(BadCase, pk=pk)
    return render(
        request, "deploy/bad_case_lineage.html", {"bad_case": bad_case, "lineage": bad_case_lineage(bad_case)}
    )


@role_required(Role.ML_ENGINEER)
@require_GET
def ab_list(request):
    return render(request, "deploy/ab_list.html", {"slots": slots()})


@role_required(Role.ML_ENGINEER)
@require_GET
def ab_report_view(request, slot: str):
    report = ab_report(slot)
    return render(request, "deploy/ab_report.html", {"report": report, "chart": report["chart"]})


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def ab_promote(request, slot: str, pk: int):
    """GET: the confirmation (what will be retired); POST: promote through the stage service (audited)."""
    version = get_object_or_404(ModelVersion, pk=pk)
    current = ModelVersion.objects.filter(stage=ModelVersion.Stage.PRODUCTION, slot=slot).exclude(pk=pk).first()
    if request.method == "POST":
        try:
            version_promote(version=version, slot=slot, actor=request.user, note="A/B report")
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("deploy:ab_report", slot=slot)
        replaced = f" {current.name} is retired." if current else ""
        messages.success(request, f"{version.name} now serves slot {slot} in production.{replaced}")
        return redirect("deploy:ab_report", slot=slot)
    return render(request, "deploy/ab_promote.html", {"version": version, "current": current, "slot": slot})


# -- API keys (kernel.api_keys): self-service for ML engineers and admins ---------------------------------
def _visible_keys(user):
    keys = ApiKey.objects.select_related("owner")
    return keys if has_role(user, ()) else keys.filter(owner=user)


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def key_list(request):
    """GET: the user's keys (an admin sees every key); POST: create one and show it once."""
    context = {"default_days": API_KEY_DAYS, "show_all": has_role(request.user, ())}
    if request.method == "POST":
        try:
            days = int(request.POST.get("days") or API_KEY_DAYS)
        except ValueError:
            days = -1
        try:
            row, key = api_key_create(owner=request.user, name=request.POST.get("name", ""), days=days)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("deploy:key_list")
        context.update(new_key=key, new_key_row=row)
    context["keys"] = _visible_keys(request.user)
    response = render(request, "deploy/keys.html", context)
    response["Cache-Control"] = "no-store"  # the page may hold a new key in clear
    return response


@role_required(Role.ML_ENGINEER)
@require_http_methods(["GET", "POST"])
def key_revoke(request, pk: int):
    key = get_object_or_404(_visible_keys(request.user), pk=pk)
    if request.method == "POST":
        try:
            api_key_revoke(key=key, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Key {key.name} ({key.prefix}…) is revoked.")
        return redirect("deploy:key_list")
    return render(request, "deploy/key_revoke.html", {"key": key})
