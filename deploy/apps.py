from django.apps import AppConfig


class DeployConfig(AppConfig):
    """Serving: deployments and the gateway (next). The top app: it may import every app below it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deploy"

    def ready(self) -> None:
        # A reward config's judge that is a served version answers where its deployment is now
        # (rewards.services.remote.judge_endpoint); rewards sits below deploy, so deploy installs the lookup.
        from deploy.selectors import live_endpoint
        from rewards.services.remote import live_endpoint_install

        def resolve(version):
            endpoint = live_endpoint(version)
            return (endpoint.base_url, endpoint.model) if endpoint is not None else None

        live_endpoint_install(resolve)
