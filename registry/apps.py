"""The model registry: every servable model version (a base checkpoint plus an optional adapter) with its
lineage. Below annotation (which generates with a version) and above the kernel; training_jobs registers
what it trains here and deploy serves what is registered (docs/architecture.md, "Layers")."""

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"
    verbose_name = "Model registry"
