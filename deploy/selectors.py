"""Reads other code uses to reach a served model. ``live_endpoint`` is the one way: the gateway, the
playground and scripts call it with a registry version and get where to send an OpenAI request."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from deploy.serving_models import Deployment, DeploymentAdapter
from kernel.status import Status
from registry.models import ModelVersion


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # http://HOST:PORT/v1, for OpenAI clients
    model: str  # the model name to send: the adapter's served name for a policy, the base's name for a base
    deployment_id: int


def _healthy() -> dict:
    return {
        "status": Status.RUNNING,
        "state": Deployment.State.HEALTHY,
        "cancel_requested": False,
        "port__isnull": False,
    }


def _url(deployment: Deployment) -> str:
    return f"http://{settings.PARLEY_SERVE_HOST}:{deployment.port}/v1"


def live_endpoint(version: ModelVersion) -> Endpoint | None:
    """Where ``version`` answers now: a healthy deployment that serves it (a policy as a loaded adapter,
    a base or a reward model as the server's own model), the most recently started first; None when
    nothing serves it."""
    if version.kind in (ModelVersion.Kind.BASE, ModelVersion.Kind.REWARD_MODEL):
        deployment = Deployment.objects.filter(base=version, **_healthy()).order_by("-started_at", "-id").first()
        return Endpoint(_url(deployment), deployment.served_base_name, deployment.pk) if deployment else None
    adapter = (
        DeploymentAdapter.objects.filter(
            version=version,
            state=DeploymentAdapter.State.LOADED,
            **{f"deployment__{key}": value for key, value in _healthy().items()},
        )
        .select_related("deployment")
        .order_by("-deployment__started_at", "-deployment_id")
        .first()
    )
    return Endpoint(_url(adapter.deployment), adapter.served_name, adapter.deployment_id) if adapter else None


def served_versions() -> list[tuple[ModelVersion, Endpoint]]:
    """Every version that answers chat now, with its endpoint (the playground's choice of models); served
    reward models are :func:`served_reward_model`'s."""
    out = []
    deployments = Deployment.objects.filter(**_healthy()).exclude(base__kind=ModelVersion.Kind.REWARD_MODEL)
    for deployment in deployments.select_related("base"):
        out.append((deployment.base, Endpoint(_url(deployment), deployment.served_base_name, deployment.pk)))
        for adapter in deployment.adapters.filter(state=DeploymentAdapter.State.LOADED).select_related("version"):
            out.append((adapter.version, Endpoint(_url(deployment), adapter.served_name, deployment.pk)))
    return out


def served_reward_model() -> tuple[ModelVersion, Endpoint] | None:
    """The reward model that answers ``/classify`` now (the most recently started), with its endpoint."""
    deployment = (
        Deployment.objects.filter(base__kind=ModelVersion.Kind.REWARD_MODEL, **_healthy())
        .select_related("base")
        .order_by("-started_at", "-id")
        .first()
    )
    if deployment is None:
        return None
    return deployment.base, Endpoint(_url(deployment), deployment.served_base_name, deployment.pk)
