"""The Celery app. Queues: ``default`` (web work), ``gpu`` (engine jobs), ``serve`` (vLLM).

Without DJANGO_SETTINGS_MODULE it runs with the production settings (as ``parley.wsgi``/``parley.asgi``
do); ``make run`` and the tests name theirs explicitly."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings.production")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
