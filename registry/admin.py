from django.contrib import admin

from registry.models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "method", "base_model", "adapter_path", "created_at")
    list_filter = ("method",)
    search_fields = ("name", "base_model", "description")
