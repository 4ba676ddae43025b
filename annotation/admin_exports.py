"""Admin actions that download the selected rows as TRL JSONL (through the export service): one per
export kind that names the model in ``admin_models`` (``annotation.services.exports.EXPORT_KINDS``).

The export page (``annotation:data_export``) gives the same rows with their provenance sidecar.
"""

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse

from annotation.services.exports import EXPORT_KINDS, ExportFilters, dumps, export_recorded, export_rows_for
from kernel.roles import Role, has_role


def export_action(kind: str, description: str):
    """An admin action exporting the selected rows as ``kind`` (admins and ML engineers only)."""

    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        if not has_role(request.user, (Role.ADMIN, Role.ML_ENGINEER)):
            raise PermissionDenied("Exports are for admins and ML engineers.")
        filters = ExportFilters(
            ids=tuple(queryset.values_list("id", flat=True)), selection=queryset.model._meta.model_name
        )
        export_recorded(actor=request.user, kind=kind, filters=filters, part="admin selection")
        lines = (dumps(row) for row, _ in export_rows_for(kind=kind, filters=filters))
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson; charset=utf-8")
        filename = f"parley-{kind}-selection-{dt.date.today():%Y%m%d}.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    action.__name__ = f"export_{kind.replace('-', '_')}"
    return action


_ACTIONS = {kind.name: export_action(kind.name, kind.admin_action) for kind in EXPORT_KINDS if kind.admin_action}


def export_actions(model) -> list:
    """The export actions for the admin list of ``model`` (a model class)."""
    name = model._meta.model_name
    return [_ACTIONS[kind.name] for kind in EXPORT_KINDS if name in kind.admin_models and kind.name in _ACTIONS]
