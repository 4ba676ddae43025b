"""Writes of the annotation app (STYLE.md: services are where state changes)."""
