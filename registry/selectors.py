"""Reads of the model registry."""

from django.db.models import QuerySet

from registry.models import ModelVersion


def model_versions(*, method: str = "") -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.prefetch_related("produced_by").order_by("-created_at")
    return qs.filter(method=method) if method else qs
