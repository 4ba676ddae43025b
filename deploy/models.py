"""Deployments build here. The model registry they serve from is ``registry.models.ModelVersion``.
The production-log intake's rows live in ``deploy.intake_models``."""

from deploy.gateway_models import GatewayExchange, SlotGuardrail, SlotRoute
from deploy.intake_models import ProductionConversation, SamplingRule

__all__ = ["GatewayExchange", "ProductionConversation", "SamplingRule", "SlotGuardrail", "SlotRoute"]
