from django.apps import AppConfig


class DeployConfig(AppConfig):
    """Serving: deployments and the gateway. The top app: it may import every app below it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deploy"

    def ready(self) -> None:
        # rewards sits below deploy, so deploy installs its lookups there instead of rewards importing deploy:
        # - the reward playground scores through a served reward model when one is live;
        # - a reward config's judge that is a served version answers where its deployment is now
        #   (rewards.services.remote.judge_endpoint).
        from deploy.selectors import live_endpoint
        from deploy.services.reward_scoring import served_rm_score
        from rewards.services import remote

        remote.set_served_rm_scorer(served_rm_score)

        def resolve(version):
            endpoint = live_endpoint(version)
            return (endpoint.base_url, endpoint.model) if endpoint is not None else None

        remote.live_endpoint_install(resolve)
