"""Import (upload) and export (download) pages: admins and ML engineers. Adapters over the services."""

import datetime as dt

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from annotation.forms_data import ExportForm, ImportForm
from annotation.services.exports import EXPORT_KINDS, dumps, export_recorded, export_rows_for
from annotation.services.imports import dialogues_import
from kernel.roles import Role, role_required
from kernel.text import split_lines

DATA_ROLES = (Role.ADMIN, Role.ML_ENGINEER)


@role_required(*DATA_ROLES)
@require_http_methods(["GET", "POST"])
def data_import(request) -> HttpResponse:
    """Upload a JSONL file; 400 with every bad line when anything is wrong (and nothing imported)."""
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "result": None}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            result = dialogues_import(
                lines=split_lines(form.cleaned_data["file"].chunks()),
                project=form.cleaned_data["project"],
                user=request.user,
            )
            context["result"] = result
            status = 200 if result.ok else 400
        else:
            status = 400
    # A plain form post, not htmx: htmx does not swap 4xx answers, and the error list must show.
    return render(request, "annotation/import.html", context, status=status)


@role_required(*DATA_ROLES)
@require_http_methods(["GET"])
def data_export(request) -> HttpResponse:
    """The export form; with ``download`` in the query, the chosen file streamed row by row."""
    if "download" not in request.GET:
        return render(request, "annotation/export.html", {"form": ExportForm(), "kinds": EXPORT_KINDS})
    form = ExportForm(request.GET)
    if not form.is_valid():
        return render(request, "annotation/export.html", {"form": form, "kinds": EXPORT_KINDS}, status=400)
    kind, part, filters = form.cleaned_data["kind"], form.cleaned_data["part"] or "training", form.filters()
    export_recorded(actor=request.user, kind=kind, filters=filters, part=part)
    rows = export_rows_for(kind=kind, filters=filters)
    if part == "sidecar":
        lines = (dumps({"row": i, **meta}) for i, (_, meta) in enumerate(rows))
    else:
        lines = (dumps(row) for row, _ in rows)
    suffix = ".provenance" if part == "sidecar" else ""
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
    filename = f"parley-{kind}-{dt.date.today():%Y%m%d}{suffix}.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
