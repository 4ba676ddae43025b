"""Rows of the deploy app. The model registry they serve from is ``registry.models.ModelVersion``.
The production-log intake's rows live in ``deploy.intake_models``, the deployments' in
``deploy.serving_models``, the gateway's in ``deploy.gateway_models``."""

from deploy.gateway_models import GatewayExchange, SlotGuardrail, SlotRoute
from deploy.intake_models import ProductionConversation, SamplingRule
from deploy.serving_models import Deployment, DeploymentAdapter

__all__ = [
    "Deployment",
    "DeploymentAdapter",
    "GatewayExchange",
    "ProductionConversation",
    "SamplingRule",
    "SlotGuardrail",
    "SlotRoute",
]
