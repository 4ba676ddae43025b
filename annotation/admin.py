"""Django admin for every annotation model, with search and filters."""

from django.contrib import admin

from annotation import models as m
from annotation.admin_exports import export_actions
from annotation.selectors import visible_bad_cases, visible_pairs


class BlindAdmin(admin.ModelAdmin):
    """A change list that keeps blind annotation blind: a non-superuser sees what the app's own pages show
    them (only staff with a role that sees every answer reach the admin at all: kernel/admin_site.py)."""

    visible = staticmethod(lambda qs, *, viewer: qs)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else self.visible(qs, viewer=request.user)


class StageInline(admin.TabularInline):
    model = m.SOPStage
    extra = 0


class ClauseInline(admin.TabularInline):
    model = m.SOPClause
    extra = 0
    fields = ("code", "stage", "text")


@admin.register(m.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name", "description")


@admin.register(m.SOP)
class SOPAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "project", "is_active", "created_at")
    list_filter = ("project", "is_active")
    search_fields = ("name",)
    inlines = [StageInline, ClauseInline]


@admin.register(m.SOPStage)
class SOPStageAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "order", "sop")
    list_filter = ("sop",)
    search_fields = ("name", "key")


@admin.register(m.SOPClause)
class SOPClauseAdmin(admin.ModelAdmin):
    list_display = ("code", "stage", "sop", "text")
    list_filter = ("sop", "stage__key")
    search_fields = ("code", "text")


@admin.register(m.Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    list_display = ("title", "version", "project", "created_by", "created_at")
    list_filter = ("project",)
    search_fields = ("title", "body_markdown")


class TicketInline(admin.TabularInline):
    model = m.Ticket
    extra = 0


@admin.register(m.NegotiationCase)
class NegotiationCaseAdmin(admin.ModelAdmin):
    list_display = ("hotel_name", "hotel_type", "city", "language", "project")
    list_filter = ("hotel_type", "language", "project")
    search_fields = ("hotel_name", "city")
    inlines = [TicketInline]


@admin.register(m.Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("room_type", "case", "current_price", "net_price", "target_price", "currency")
    list_filter = ("currency",)
    search_fields = ("room_type", "case__hotel_name")
    list_select_related = ("case",)


class MessageInline(admin.TabularInline):
    model = m.Message
    extra = 0
    fields = ("index", "role", "stage", "content")


@admin.register(m.Dialogue)
class DialogueAdmin(admin.ModelAdmin):
    actions = export_actions(m.Dialogue)
    list_display = ("external_id", "source", "case", "project", "created_at")
    list_filter = ("source", "project", "case__hotel_type", "case__language")
    search_fields = ("external_id", "case__hotel_name", "messages__content")
    list_select_related = ("case", "project")
    date_hierarchy = "created_at"
    inlines = [MessageInline]


@admin.register(m.Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("dialogue", "index", "role", "stage")
    list_filter = ("role", "stage")
    search_fields = ("content", "dialogue__external_id")
    list_select_related = ("dialogue",)


@admin.register(m.Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("dialogue", "turn", "source", "model_name", "created_at")
    list_filter = ("source",)
    search_fields = ("text", "dialogue__external_id", "model_name")
    list_select_related = ("dialogue",)
    raw_id_fields = ("dialogue", "model_version", "author")


@admin.register(m.PreferencePair)
class PreferencePairAdmin(BlindAdmin):
    visible = staticmethod(visible_pairs)
    actions = export_actions(m.PreferencePair)
    list_display = ("id", "dialogue", "turn", "provenance", "strength", "annotator", "reviewed", "created_at")
    list_filter = ("provenance", "strength", "reviewed")
    search_fields = ("dialogue__external_id", "note", "chosen__text", "rejected__text")
    list_select_related = ("dialogue", "annotator")
    raw_id_fields = ("dialogue", "chosen", "rejected", "annotator", "guideline", "sop")
    date_hierarchy = "created_at"


@admin.register(m.BadCase)
class BadCaseAdmin(BlindAdmin):
    visible = staticmethod(visible_bad_cases)
    actions = export_actions(m.BadCase)
    list_display = ("id", "dialogue", "turn", "category", "clause", "severity", "status", "fixed_in")
    list_filter = ("category", "severity", "status")
    search_fields = ("model_reply", "gold_reply", "dialogue__external_id")
    list_select_related = ("dialogue", "clause", "fixed_in")
    raw_id_fields = ("dialogue", "clause", "model_version", "fixed_in", "created_by")


@admin.register(m.ExcellentTurn)
class ExcellentTurnAdmin(admin.ModelAdmin):
    actions = export_actions(m.ExcellentTurn)
    list_display = ("dialogue", "turn", "flagged_by", "created_at")
    search_fields = ("dialogue__external_id", "note")
    raw_id_fields = ("dialogue", "flagged_by")
