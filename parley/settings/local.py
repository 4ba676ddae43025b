"""`make run`: SQLite and the filesystem broker unless DATABASE_URL / CELERY_BROKER_URL say otherwise."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from .base import *  # noqa: E402,F403
