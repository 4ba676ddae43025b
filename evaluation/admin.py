"""Django admin for the evaluation app: raw rows for admins (panel lenses are set here or by the rater)."""

from django.contrib import admin

from evaluation.models import EvalItem, EvalRun, EvalSet, EvalSystem, Judgment, PanelAssignment, PanelMember, Response


@admin.register(EvalSet)
class EvalSetAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "kind", "frozen_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(EvalItem)
class EvalItemAdmin(admin.ModelAdmin):
    list_display = ("eval_set", "external_id", "dialogue", "bad_case", "position")
    raw_id_fields = ("dialogue", "bad_case")
    search_fields = ("external_id",)


@admin.register(EvalSystem)
class EvalSystemAdmin(admin.ModelAdmin):
    list_display = ("name", "model_version", "is_gold")


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "eval_set", "status", "created_at", "finished_at")
    list_filter = ("status",)
    readonly_fields = (
        "worker_host",
        "worker_pid",
        "engine_pid",
        "attempts",
        "heartbeat_at",
        "run_dir",
        "error",
        "metrics",
        "started_at",
        "finished_at",
    )


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("item", "system", "turn", "run")
    raw_id_fields = ("item", "run")


@admin.register(PanelMember)
class PanelMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "expertise")


@admin.register(PanelAssignment)
class PanelAssignmentAdmin(admin.ModelAdmin):
    list_display = ("item", "rater", "expertise", "created_at", "submitted_at")
    raw_id_fields = ("item",)


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ("item", "system", "rater", "consensus", "rating", "fix_status", "source", "created_at")
    list_filter = ("consensus", "source", "fix_status")
    raw_id_fields = ("item",)
