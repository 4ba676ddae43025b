"""Writes of the annotation app (docs/architecture.md, "Services": services are where state changes)."""
