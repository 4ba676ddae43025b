"""Writes of the model registry."""

from django.conf import settings
from django.db import transaction

from registry.models import ModelVersion

DEFAULT_BASE_NAME = "tiny-default"


@transaction.atomic
def base_model_default_ensure() -> ModelVersion:
    """The embedded default base model (docs/engine.md: the tiny model ``make run`` builds) as a registered
    ``base`` version, so the job dashboard always offers it. Idempotent."""
    model, _ = ModelVersion.objects.get_or_create(
        name=DEFAULT_BASE_NAME,
        defaults={
            "base_model": str(settings.PARLEY_BASE_MODEL),
            "method": "base",
            "description": "The tiny Qwen3-architecture model built on first run (no download).",
        },
    )
    return model


def base_model_register(*, name: str, path: str, description: str = "") -> ModelVersion:
    """Register any HF checkpoint directory (e.g. Qwen3-32B on shared storage) as a base model."""
    model = ModelVersion(name=name, base_model=path, method="base", description=description)
    model.full_clean()
    model.save()
    return model
