"""The Celery app. Queues: ``default`` (web work), ``gpu`` (engine jobs), ``serve`` (vLLM)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings.local")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
