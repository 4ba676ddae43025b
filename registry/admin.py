"""Read-only: registry writes go through ``registry.services`` (audited), so lineage cannot be edited here."""

from django.contrib import admin

from registry.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "stage", "slot", "method", "base", "adapter_path", "created_at")
    list_filter = ("kind", "stage", "method")
    search_fields = ("name", "base_model", "description")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
