from django.apps import AppConfig


class DeployConfig(AppConfig):
    """Serving: deployments and the gateway (next). The top app: it may import every app below it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deploy"

    def ready(self) -> None:
        # The reward playground (rewards, a lower layer) scores through a served reward model when one is
        # live: it is handed deploy's scorer here instead of importing deploy.
        from deploy.services.reward_scoring import served_rm_score
        from rewards.services import remote

        remote.set_served_rm_scorer(served_rm_score)
