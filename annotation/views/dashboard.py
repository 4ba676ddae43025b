"""Per-project dashboards: items by status, throughput per annotator, agreement trend and per lens, bad
cases by category and SOP clause."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from annotation.models import Project
from annotation.selectors_agreement import project_agreement_by_lens
from annotation.selectors_dashboard import project_dashboard_stats
from kernel.roles import ANNOTATORS, Role, role_required

DASHBOARD_ROLES = (*ANNOTATORS, Role.REVIEWER, Role.ML_ENGINEER)


@role_required(*DASHBOARD_ROLES)
def dashboard(request) -> HttpResponse:
    projects = list(Project.objects.order_by("name"))
    if len(projects) == 1:
        return redirect("annotation:project_dashboard", project_id=projects[0].pk)
    return render(request, "annotation/dashboard_index.html", {"projects": projects})


@role_required(*DASHBOARD_ROLES)
def project_dashboard(request, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=project_id)
    context = {
        "project": project,
        "stats": project_dashboard_stats(project=project),
        "lenses": project_agreement_by_lens(project=project),
        "queues": project.queues.order_by("-created_at"),
    }
    return render(request, "annotation/dashboard.html", context)
