"""Rows of the deploy app. The model registry they serve from is ``registry.models.ModelVersion``.
The production-log intake's rows live in ``deploy.intake_models``, the deployments' in
``deploy.serving_models``."""

from deploy.intake_models import ProductionConversation, SamplingRule
from deploy.serving_models import Deployment, DeploymentAdapter

__all__ = ["Deployment", "DeploymentAdapter", "ProductionConversation", "SamplingRule"]
