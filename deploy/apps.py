from django.apps import AppConfig


class DeployConfig(AppConfig):
    """Serving: deployments and the gateway (next). The top app: it may import every app below it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deploy"
