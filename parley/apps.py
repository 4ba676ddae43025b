from django.apps import AppConfig


class ParleyConfig(AppConfig):
    """The wiring: settings, URLs, the Celery app, home and navigation (the role sync lives in the kernel)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "parley"
    verbose_name = "Parley platform"
