"""Model registry pages."""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from kernel.roles import Role, role_required
from registry.models import ModelVersion
from registry.selectors import model_versions


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
    model = get_object_or_404(ModelVersion, pk=pk)
    return render(request, "registry/model_detail.html", {"model": model, "jobs": model.produced_by.all()})
