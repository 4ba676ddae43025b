"""Parley's platform core: settings, URLs, the Celery app, roles and the base templates."""

from .celery import app as celery_app

__all__ = ["celery_app"]
