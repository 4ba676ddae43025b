"""ASGI entry point: Django's pages and API, with the OpenAI-compatible gateway (``/v1/``) mounted beside
them (``deploy.gateway.app.mount``). Serve it with uvicorn (docs/operations.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings.production")
django_application = get_asgi_application()

from deploy.gateway.app import mount  # noqa: E402  (after Django is set up)

application = mount(django_application)
