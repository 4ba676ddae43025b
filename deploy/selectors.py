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
    a base as the server's own model), the most recently started first; None when nothing serves it."""
    if version.kind == ModelVersion.Kind.BASE:
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
    """Every version that answers now, with its endpoint (the playground's choice of models)."""
    out = []
    for deployment in Deployment.objects.filter(**_healthy()).select_related("base"):
        out.append((deployment.base, Endpoint(_url(deployment), deployment.served_base_name, deployment.pk)))
        for adapter in deployment.adapters.filter(state=DeploymentAdapter.State.LOADED).select_related("version"):
            out.append((adapter.version, Endpoint(_url(deployment), adapter.served_name, deployment.pk)))
    return out
