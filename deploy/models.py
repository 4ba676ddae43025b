"""Deployments build here. The model registry they serve from is ``registry.models.ModelVersion``."""
