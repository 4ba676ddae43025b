"""The admin's evaluation exports: judgments, consensus labels and reports as CSV or JSONL."""

from django.http import Http404, HttpResponse
from django.shortcuts import render

from evaluation.services.exports import KINDS, evaluation_export
from kernel.roles import Role, role_required

CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/jsonl"}


@role_required(Role.ADMIN)
def export_home(request):
    return render(request, "evaluation/export.html", {"kinds": KINDS, "formats": tuple(CONTENT_TYPES)})


@role_required(Role.ADMIN)
def export_download(request, kind: str, fmt: str):
    if kind not in KINDS or fmt not in CONTENT_TYPES:
        raise Http404("No such export.")
    body = evaluation_export(kind=kind, fmt=fmt, actor=request.user)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="evaluation-{kind}.{fmt}"'
    return response
