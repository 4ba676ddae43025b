"""Where a version is served: the live vLLM endpoint of a version (replaced by the serving implementation)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # http://HOST:PORT/v1
    model: str  # the name to send to vLLM (the served base or the LoRA adapter's name)
    deployment_id: int | None


def live_endpoint(version) -> Endpoint | None:
    """The healthy deployment serving ``version``, or None.

    Replaced by the serving implementation (the Deployment model's selector); until then no version is
    live and the gateway answers 503."""
    return None
